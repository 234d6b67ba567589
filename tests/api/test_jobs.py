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


@pytest.mark.django_db(transaction=True)
def test_requeue_sends_lost_and_unsent_jobs_but_not_live_ones(closed_question, expert):
    from datetime import timedelta

    from django.utils import timezone

    services.posterior_publish(question=closed_question, user=expert, spec=POSTERIOR_SPEC)  # scored eagerly
    long_ago = timezone.now() - timedelta(hours=1)
    lost = services.job_enqueue(question=closed_question, kind="aggregate")
    Job.objects.filter(pk=lost.pk).update(state="running", heartbeat_at=long_ago, queued_at=long_ago)
    live = services.job_enqueue(question=closed_question, kind="aggregate")
    Job.objects.filter(pk=live.pk).update(state="running", heartbeat_at=timezone.now(), queued_at=timezone.now())
    unsent = services.job_enqueue(question=closed_question, kind="aggregate")
    Job.objects.filter(pk=unsent.pk).update(state="pending", queued_at=None)

    sent = services.jobs_requeue(stale_seconds=60)

    assert sorted(sent) == sorted([lost.pk, unsent.pk])
    states = dict(Job.objects.filter(pk__in=[lost.pk, live.pk, unsent.pk]).values_list("pk", "state"))
    assert states == {lost.pk: "done", live.pk: "running", unsent.pk: "done"}


@pytest.fixture
def failed_scoring(closed_question, expert, monkeypatch):
    """The posterior is published while scoring is broken: the job fails and the question stays resolved."""
    from amplification import services as runs

    def broken(*args, **kwargs):
        raise RuntimeError("scoring is broken")

    with monkeypatch.context() as patch:
        patch.setattr(runs, "score_predictions", broken)
        with django_capture_on_commit():
            services.posterior_publish(question=closed_question, user=expert, spec=POSTERIOR_SPEC)
    job = Job.objects.get(question=closed_question, kind="score")
    assert job.state == "failed" and "scoring is broken" in job.error
    closed_question.refresh_from_db()
    assert closed_question.status == "resolved"
    return job


def django_capture_on_commit():
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)


def test_an_organizer_retries_a_failed_job_once_the_fault_is_gone(client_for, failed_scoring, organizer):
    with django_capture_on_commit():
        response = client_for(organizer).post(f"/api/jobs/{failed_scoring.pk}/retry/")
    assert response.status_code == 202
    failed_scoring.refresh_from_db()
    assert (failed_scoring.state, failed_scoring.error) == ("done", "")
    failed_scoring.question.refresh_from_db()
    assert failed_scoring.question.status == "scored"


@pytest.mark.parametrize("who", ["expert", "alice"])
def test_only_organizers_retry_a_job(client_for, failed_scoring, who, request):
    response = client_for(request.getfixturevalue(who)).post(f"/api/jobs/{failed_scoring.pk}/retry/")
    assert response.status_code == 403
    failed_scoring.refresh_from_db()
    assert failed_scoring.state == "failed"


def test_a_job_that_has_not_failed_is_not_retried(client_for, open_question, organizer):
    job = services.job_enqueue(question=open_question, kind="aggregate")
    response = client_for(organizer).post(f"/api/jobs/{job.pk}/retry/")
    assert response.status_code == 409
    assert "has not failed" in response.json()["detail"]


def test_the_requeue_command_retries_failed_jobs_when_asked(failed_scoring):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("jobs_requeue", stdout=out)
    failed_scoring.refresh_from_db()
    assert failed_scoring.state == "failed"  # without --failed a failed job is left for a person to look at
    with django_capture_on_commit():
        call_command("jobs_requeue", "--failed", stdout=out)
    failed_scoring.refresh_from_db()
    assert failed_scoring.state == "done"
    assert f"retried 1 failed job(s): [{failed_scoring.pk}]" in out.getvalue()
