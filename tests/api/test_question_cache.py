"""Cached reads of a question: served without the database, replaced on every write, never per-user content."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from forecasts import services

pytestmark = pytest.mark.django_db(transaction=True)  # the cache is replaced when a write commits


def test_it_serves_the_question_json_from_the_cache(client_for, open_question, alice, bob,
                                                   django_assert_max_num_queries):
    url = f"/api/questions/{open_question.pk}/"
    first = client_for(alice).get(url).json()
    with django_assert_max_num_queries(0):  # another viewer, and no query: the JSON is the same for everyone
        assert client_for(bob).get(url).json() == first


def test_it_shows_a_close_and_a_prior_change_at_once(client_for, open_question, expert, alice):
    url = f"/api/questions/{open_question.pk}/"
    assert client_for(alice).get(url).json()["status"] == "open"
    assert client_for(expert).post(f"/api/questions/{open_question.pk}/close/").status_code == 200
    body = client_for(alice).get(url).json()
    assert body["status"] == "closed" and body["closed_head"] is not None


def test_it_closes_by_the_clock_rather_than_serve_a_stale_open_question(client_for, open_question, alice):
    url = f"/api/questions/{open_question.pk}/"
    assert client_for(alice).get(url).json()["status"] == "open"
    with time_machine.travel(open_question.closes_at + services.close_grace() + timedelta(seconds=1)):
        assert client_for(alice).get(url).json()["status"] == "closed"


def test_it_never_caches_a_draft(client_for, draft_question, expert, alice):
    assert client_for(expert).get(f"/api/questions/{draft_question.pk}/").status_code == 200
    assert client_for(alice).get(f"/api/questions/{draft_question.pk}/").status_code == 404
    assert client_for(expert).get(f"/api/questions/{draft_question.pk}/").status_code == 200


def test_the_anonymous_page_is_cached_and_replaced_when_evidence_is_posted(client, client_for, open_question, alice,
                                                                           django_assert_max_num_queries):
    url = f"/questions/{open_question.pk}/"
    assert client.get(url).status_code == 200
    with django_assert_max_num_queries(0):
        assert client.get(url).status_code == 200
    assert client_for(alice).post(f"/api/questions/{open_question.pk}/evidence/", {"body": "a new argument"},
                                  format="json").status_code == 201
    assert "a new argument" in client.get(url).content.decode()


def test_it_never_serves_the_anonymous_page_to_a_signed_in_reader(client, open_question, alice):
    url = f"/questions/{open_question.pk}/"
    anonymous = client.get(url).content.decode()
    client.force_login(alice)
    mine = client.get(url).content.decode()
    assert "csrfmiddlewaretoken" not in anonymous
    assert "csrfmiddlewaretoken" in mine and 'aria-label="prediction"' in mine  # alice's own forms


def test_a_prediction_changes_neither_cached_view_so_it_keeps_them(client, client_for, open_question, alice):
    """The submission path leaves the cache alone (services.question_lock_status; the pooled-forecast job replaces
    it once per window when it finishes): right only if a prediction changes nothing either view shows, which
    fresh renders before and after one prove."""
    from django.core.cache import cache
    from django.db import transaction

    from forecasts.question_cache import question_version

    page, api = f"/questions/{open_question.pk}/", f"/api/questions/{open_question.pk}/"
    before = client.get(page).content, client_for(alice).get(api).json()
    version = question_version(open_question.pk)
    with transaction.atomic():
        services.prediction_submit(question=open_question.pk, author=alice,
                                   spec={"type": "lognormal", "median": 1e12, "sigma": 2})
        assert question_version(open_question.pk) == version
    cache.clear()
    assert (client.get(page).content, client_for(alice).get(api).json()) == before
