"""The admin shows rows and changes none: every write goes through the services; the draw seed stays secret."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from forecasts.models import Question

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("root", password="pass-word-123")
    client.force_login(user)
    return client


def test_the_draw_seed_is_hidden_in_the_admin_until_the_award(staff_client, open_question):
    url = f"/admin/forecasts/question/{open_question.pk}/change/"
    page = staff_client.get(url).content.decode()
    assert open_question.draw_commitment in page
    assert open_question.draw_seed not in page
    Question.objects.filter(pk=open_question.pk).update(status="awarded")
    assert open_question.draw_seed in staff_client.get(url).content.decode()


@pytest.mark.parametrize("model", ["question", "prediction", "evidence", "score", "job", "prizeallocation",
                                   "influence", "competition", "auditevent"])
def test_the_admin_adds_nothing(staff_client, model):
    assert staff_client.get(f"/admin/forecasts/{model}/add/").status_code == 403


def test_the_admin_changes_and_deletes_nothing(staff_client, open_question):
    url = f"/admin/forecasts/question/{open_question.pk}/"
    response = staff_client.post(url + "change/", {"status": "awarded", "title": "hacked"})
    assert response.status_code == 403
    assert staff_client.post(url + "delete/", {"post": "yes"}).status_code == 403
    open_question.refresh_from_db()
    assert (open_question.status, open_question.title) != ("awarded", "hacked")
