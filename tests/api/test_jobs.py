"""Jobs: recorded in the database, visible through the API, refreshed without piling up."""

from __future__ import annotations

import pytest

from forecasts import services
from forecasts.models import Job
from tests.conftest import POSTERIOR_SPEC

pytestmark = pytest.mark.django_db


def test_predictions_in_a_row_queue_one_pooled_forecast_refresh(open_question, alice, bob):
    # With the `db` fixture nothing commits, so queued jobs stay pending: exactly what a busy broker looks like.
    services.prediction_submit(question=open_question, author=alice, spec=POSTERIOR_SPEC)
    services.prediction_submit(question=open_question, author=bob, spec=POSTERIOR_SPEC)
    assert Job.objects.filter(question=open_question, kind="aggregate", state="pending").count() == 1


def test_closing_queues_a_final_refresh(open_question, expert, alice):
    services.prediction_submit(question=open_question, author=alice, spec=POSTERIOR_SPEC)
    Job.objects.update(state="done")
    services.question_close(question=open_question, user=expert)
    assert Job.objects.filter(question=open_question, kind="aggregate", state="pending").count() == 1


def test_a_job_shows_its_progress(client_for, open_question, alice):
    job = services.job_enqueue(question=open_question, kind="score")
    services.job_progress(job.pk, done=3, total=10)
    body = client_for(alice).get(f"/api/jobs/{job.pk}/").json()
    assert (body["state"], body["done"], body["total"]) == ("pending", 3, 10)


def test_a_job_on_someone_elses_draft_is_hidden(client_for, draft_question, alice):
    job = services.job_enqueue(question=draft_question, kind="aggregate")
    assert client_for(alice).get(f"/api/jobs/{job.pk}/").status_code == 404


def test_a_finished_job_is_not_claimed_again(open_question):
    job = services.job_enqueue(question=open_question, kind="score")
    assert services.job_claim(job.pk)
    services.job_finish(job.pk, result={"scored": 0})
    assert not services.job_claim(job.pk)
