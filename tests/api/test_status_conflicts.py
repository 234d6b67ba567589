"""Calls the question's status does not allow are 409s, decided by the server's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from forecasts import services
from forecasts.models import Prediction
from tests.conftest import POSTERIOR_SPEC, PRIOR_SPEC

pytestmark = pytest.mark.django_db


def test_it_refuses_a_prediction_after_close(client_for, closed_question, bob):
    response = client_for(bob).post(f"/api/questions/{closed_question.pk}/predictions/", {"spec": POSTERIOR_SPEC},
                                    format="json")
    assert response.status_code == 409


def test_it_refuses_a_prediction_after_closes_at_by_the_servers_clock(client_for, open_question, bob):
    with time_machine.travel(open_question.closes_at + timedelta(seconds=1)):
        response = client_for(bob).post(f"/api/questions/{open_question.pk}/predictions/",
                                        {"spec": POSTERIOR_SPEC}, format="json")
        assert response.status_code == 409
    # The row closes once the grace for on-time arrivals still in line has passed (FA_CLOSE_GRACE_SECONDS).
    with time_machine.travel(open_question.closes_at + services.close_grace() + timedelta(seconds=1)):
        assert client_for(bob).get(f"/api/questions/{open_question.pk}/").json()["status"] == "closed"
    assert not Prediction.objects.filter(author=bob).exists()


def test_it_refuses_a_posterior_before_close(client_for, open_question, expert):
    response = client_for(expert).put(f"/api/questions/{open_question.pk}/posterior/", {"spec": POSTERIOR_SPEC},
                                      format="json")
    assert response.status_code == 409


def test_it_refuses_a_second_posterior(client_for, closed_question, expert):
    client = client_for(expert)
    url = f"/api/questions/{closed_question.pk}/posterior/"
    assert client.put(url, {"spec": POSTERIOR_SPEC}, format="json").status_code == 200
    assert client.put(url, {"spec": PRIOR_SPEC}, format="json").status_code == 409


def test_it_refuses_a_prior_after_close(client_for, closed_question, expert):
    response = client_for(expert).put(f"/api/questions/{closed_question.pk}/prior/", {"spec": PRIOR_SPEC},
                                      format="json")
    assert response.status_code == 409


def test_it_refuses_to_open_without_a_prior(client_for, draft_question, expert):
    assert client_for(expert).post(f"/api/questions/{draft_question.pk}/open/").status_code == 409


def test_it_refuses_to_open_twice(client_for, open_question, expert):
    assert client_for(expert).post(f"/api/questions/{open_question.pk}/open/").status_code == 409


def test_the_aggregate_is_hidden_while_open(client_for, open_question, alice):
    client_for(alice).post(f"/api/questions/{open_question.pk}/predictions/", {"spec": POSTERIOR_SPEC},
                           format="json")
    assert client_for(alice).get(f"/api/questions/{open_question.pk}/aggregate/").status_code == 409


def test_due_questions_close_exactly_once(open_question):
    from forecasts.models import AuditEvent
    from forecasts.services import questions_close_due

    later = timezone.now() + timedelta(days=30)
    assert questions_close_due(now=later) == 1
    assert questions_close_due(now=later) == 0
    assert AuditEvent.objects.filter(question=open_question, action="question.close").count() == 1


def test_a_question_closed_by_the_clock_records_its_closing_time(open_question):
    from forecasts.services import questions_close_due

    # Nothing looked at the question for a month after it closed; it still closed at closes_at.
    questions_close_due(now=open_question.closes_at + timedelta(days=30))
    open_question.refresh_from_db()
    assert (open_question.status, open_question.closed_at) == ("closed", open_question.closes_at)


def test_the_question_list_closes_due_questions_before_filtering(client_for, open_question, alice):
    with time_machine.travel(open_question.closes_at + timedelta(hours=5)):
        client = client_for(alice)
        assert client.get("/api/questions/?status=open").json()["results"] == []
        closed = client.get("/api/questions/?status=closed").json()["results"]
        assert [(q["id"], q["status"]) for q in closed] == [(open_question.pk, "closed")]
    open_question.refresh_from_db()
    assert open_question.closed_at == open_question.closes_at


def test_the_question_list_page_closes_due_questions(client, open_question):
    with time_machine.travel(open_question.closes_at + timedelta(hours=5)):
        page = client.get("/").content.decode()
    assert '<span class="status">closed</span>' in page
    open_question.refresh_from_db()
    assert (open_question.status, open_question.closed_at) == ("closed", open_question.closes_at)
