"""A job's `result` is shown only to those who may see what the job computed; state and progress to all who see the
question.

A prize job's result (amounts paid, the draw's winner) is for organizers, like the draft it computed; a pooled
forecast job's result (how many predictions were pooled) follows the crowd's visibility.
"""

from __future__ import annotations

import pytest

from forecasts import jobs, services
from tests.conftest import POSTERIOR_SPEC

pytestmark = pytest.mark.django_db

PRIZE_RESULT = {"allocation": 1, "payouts": 2, "accuracy_paid": "50.00", "evidence_paid": "50.00",
                "unallocated": {}, "draw_winner": "7"}


@pytest.fixture
def personas(expert, alice, organizer, outsider):
    return {"expert": expert, "alice": alice, "organizer": organizer, "outsider": outsider}


def _finished_job(question, kind: str, result: dict):
    # With the `db` fixture nothing commits, so the job is never sent: it finishes exactly as recorded here.
    job = jobs.job_enqueue(question=question, kind=kind)
    jobs.job_progress(job.pk, done=2, total=2)
    jobs.job_finish(job.pk, result=result)
    return job


def _get(client, job) -> dict:
    response = client.get(f"/api/jobs/{job.pk}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "done"  # the state is always shown
    job.question.refresh_from_db()
    if body["kind"] != "aggregate" or job.question.status in ("resolved", "scored", "awarded"):
        assert (body["done"], body["total"]) == (2, 2)
    else:  # how many predictions were pooled is hidden with the crowd
        assert (body["done"], body["total"], body["created_at"]) == (None, None, None)
    return body


@pytest.mark.parametrize(("persona", "shown"), [("expert", False), ("alice", False), ("organizer", True),
                                                ("outsider", False)])
def test_it_shows_a_prize_jobs_result_only_to_organizers(client_for, personas, closed_question, persona, shown):
    job = _finished_job(closed_question, "prizes", PRIZE_RESULT)
    assert _get(client_for(personas[persona]), job)["result"] == (PRIZE_RESULT if shown else None)


@pytest.mark.parametrize("persona", ["expert", "alice", "organizer", "outsider"])
def test_it_hides_a_pooled_forecast_jobs_result_while_the_crowd_is_hidden(client_for, personas, closed_question,
                                                                           persona):
    job = _finished_job(closed_question, "aggregate", {"pooled": 2})
    assert _get(client_for(personas[persona]), job)["result"] is None


@pytest.mark.parametrize("persona", ["expert", "alice", "organizer", "outsider"])
def test_it_shows_a_pooled_forecast_jobs_result_once_the_posterior_is_published(client_for, personas,
                                                                                 closed_question, expert, persona):
    job = _finished_job(closed_question, "aggregate", {"pooled": 2})
    services.posterior_publish(question=closed_question, user=expert, spec=POSTERIOR_SPEC)
    assert _get(client_for(personas[persona]), job)["result"] == {"pooled": 2}


@pytest.mark.parametrize("persona", ["expert", "alice", "organizer", "outsider"])
def test_it_shows_a_scoring_jobs_result_to_everyone_who_sees_the_question(client_for, personas, closed_question,
                                                                           persona):
    job = _finished_job(closed_question, "score", {"scored": 1})
    assert _get(client_for(personas[persona]), job)["result"] == {"scored": 1}
