"""The admin shows an organizer only what the API would, lists no tokens, and lets only superusers change users."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from forecasts.models import AuditEvent, Question

pytestmark = pytest.mark.django_db


@pytest.fixture
def organizer_web(organizer):
    get_user_model().objects.filter(pk=organizer.pk).update(is_staff=True, is_superuser=False)
    from django.contrib.auth.models import Permission

    organizer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client = Client()
    client.force_login(organizer)
    return client


def test_an_organizer_cannot_read_a_commenters_prediction_in_the_admin_while_the_crowd_is_hidden(
        organizer_web, open_question, alice):
    from forecasts import services

    prediction = services.prediction_submit(question=open_question, author=alice,
                                            spec={"type": "lognormal", "median": 123456789.0, "sigma": 1.5})
    url = f"/admin/forecasts/prediction/{prediction.pk}/change/"
    page = organizer_web.get(url)
    assert page.status_code == 200
    assert "123456789" not in page.content.decode()
    Question.objects.filter(pk=open_question.pk).update(status="resolved")
    assert "123456789" in organizer_web.get(url).content.decode()


def test_tokens_are_not_in_the_admin(organizer_web, alice):
    token = Token.objects.create(user=alice)
    assert organizer_web.get("/admin/authtoken/tokenproxy/").status_code == 404
    assert token.key not in organizer_web.get("/admin/").content.decode()


def test_an_organizer_cannot_change_a_user_in_the_admin(organizer_web, alice):
    response = organizer_web.post(f"/admin/auth/user/{alice.pk}/change/", {"username": "alice", "is_staff": "on"})
    assert response.status_code == 403
    alice.refresh_from_db()
    assert not alice.is_staff


def test_a_superusers_change_to_a_user_is_audited(alice):
    root = get_user_model().objects.create_superuser("root", password="pass-word-123")
    client = Client()
    client.force_login(root)
    response = client.post(f"/admin/auth/user/{alice.pk}/change/", {
        "username": "alice", "is_active": "on", "is_staff": "on", "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00", "initial-date_joined_0": "2026-01-01", "initial-date_joined_1": "00:00:00"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert AuditEvent.objects.filter(action="admin.user.change", actor=root, data__user=alice.pk).exists()
