"""The page tests' client: Django's test client, signed in as a persona (or anonymous)."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def web():
    def make(user=None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


def act(client, question, action, data):
    """Post one of the question page's forms or buttons (forecasts.pages.question_act)."""
    return client.post(f"/questions/{question.pk}/{action}/", data)


def page(client, question) -> str:
    response = client.get(f"/questions/{question.pk}/")
    assert response.status_code == 200
    return response.content.decode()
