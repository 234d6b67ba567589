"""Jobs: recorded in the database, visible through the API, refreshed without piling up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from celery.exceptions import Retry
from django.db import OperationalError

from forecasts import jobs, services, tasks
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
    job = jobs.job_enqueue(question=open_question, kind="score")
    jobs.job_progress(job.pk, done=3, total=10)
    body = client_for(alice).get(f"/api/jobs/{job.pk}/").json()
    assert (body["state"], body["done"], body["total"]) == ("pending", 3, 10)


def test_a_job_on_someone_elses_draft_is_hidden(client_for, draft_question, alice):
    job = jobs.job_enqueue(question=draft_question, kind="aggregate")
    assert client_for(alice).get(f"/api/jobs/{job.pk}/").status_code == 404


def test_a_finished_job_is_not_claimed_again(open_question):
    job = jobs.job_enqueue(question=open_question, kind="score")
    assert jobs.job_claim(job.pk)
    jobs.job_finish(job.pk, result={"scored": 0})
    assert not jobs.job_claim(job.pk)


# --- One worker at a time -------------------------------------------------------------------------------------------

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def held(job: Job, *, heartbeat_age: float, state: str = "running") -> None:
    """The job as a worker left it: claimed once, last beat `heartbeat_age` seconds before NOW."""
    Job.objects.filter(pk=job.pk).update(state=state, attempts=1, heartbeat_at=NOW - timedelta(seconds=heartbeat_age))


@pytest.fixture
def score_job(open_question, settings):
    settings.FA_JOB_CLAIM_STALE_SECONDS = 60
    return jobs.job_enqueue(question=open_question, kind="score")


def test_it_claims_a_pending_job(score_job):
    with time_machine.travel(NOW, tick=False):
        assert jobs.job_claim(score_job.pk) is True
    score_job.refresh_from_db()
    assert (score_job.state, score_job.attempts, score_job.started_at, score_job.heartbeat_at) == (
        "running", 1, NOW, NOW)


def test_it_leaves_a_running_job_with_a_fresh_heartbeat_to_its_worker(score_job):
    held(score_job, heartbeat_age=20)
    with time_machine.travel(NOW, tick=False), pytest.raises(jobs.JobBusy) as busy:
        jobs.job_claim(score_job.pk)
    assert busy.value.retry_in == 40  # seconds until the heartbeat is 60 s old
    score_job.refresh_from_db()
    assert (score_job.state, score_job.attempts, score_job.heartbeat_at) == (
        "running", 1, NOW - timedelta(seconds=20))


def test_it_takes_over_a_running_job_whose_heartbeat_is_stale(score_job):
    held(score_job, heartbeat_age=61)  # its worker died
    with time_machine.travel(NOW, tick=False):
        assert jobs.job_claim(score_job.pk) is True
    score_job.refresh_from_db()
    assert (score_job.state, score_job.attempts, score_job.heartbeat_at) == ("running", 2, NOW)


def test_a_retry_of_the_delivery_that_holds_a_job_resumes_it_at_once(score_job):
    # After a database error the task retries under the same task id: it must not wait for its own heartbeat.
    held(score_job, heartbeat_age=5)
    Job.objects.filter(pk=score_job.pk).update(claimed_by="task-a")
    with time_machine.travel(NOW, tick=False):
        token = jobs.claim_owner.set("task-b")
        try:
            with pytest.raises(jobs.JobBusy):
                jobs.job_claim(score_job.pk)  # another delivery waits
        finally:
            jobs.claim_owner.reset(token)
        token = jobs.claim_owner.set("task-a")
        try:
            assert jobs.job_claim(score_job.pk) is True
        finally:
            jobs.claim_owner.reset(token)
    score_job.refresh_from_db()
    assert (score_job.attempts, score_job.claimed_by, score_job.heartbeat_at) == (2, "task-a", NOW)


@pytest.mark.parametrize("state", ["done", "failed"])
def test_it_does_not_claim_a_finished_or_failed_job_however_old_its_heartbeat(score_job, state):
    held(score_job, heartbeat_age=3600, state=state)
    with time_machine.travel(NOW, tick=False):
        assert jobs.job_claim(score_job.pk) is False
    score_job.refresh_from_db()
    assert (score_job.state, score_job.attempts) == (state, 1)


def run_delivery(job_id: int, *, retries: int, waits: int, monkeypatch) -> list[dict]:
    """Run score_question as a worker runs a delivery that was retried `retries` times, `waits` of them for a busy
    job. Returns what it asked self.retry for (nothing is sent: there is no broker here)."""
    asked: list[dict] = []

    def retry(task, **options):
        asked.append(options)
        raise Retry("retry", when=options.get("countdown"))

    monkeypatch.setattr(tasks.score_question.__class__, "retry", retry)
    tasks.score_question.push_request(called_directly=False, is_eager=False, retries=retries, args=[job_id],
                                      kwargs={"waits": waits})
    try:
        with time_machine.travel(NOW, tick=False):
            tasks.score_question.run(job_id, waits=waits)
    except Retry:
        pass
    finally:
        tasks.score_question.pop_request()
    return asked


def test_a_delivery_that_finds_its_job_busy_comes_back_when_the_heartbeat_would_be_stale(score_job, monkeypatch):
    held(score_job, heartbeat_age=20)
    asked = run_delivery(score_job.pk, retries=3, waits=3, monkeypatch=monkeypatch)
    # 40 s until the holder's heartbeat is 60 s old, and one more; the message counts this wait.
    assert asked == [{"args": [score_job.pk], "kwargs": {"waits": 4}, "countdown": 41}]
    score_job.refresh_from_db()
    assert (score_job.state, score_job.attempts, score_job.error) == ("running", 1, "")  # busy is not failed


def test_a_busy_job_in_eager_mode_is_left_to_its_worker_without_looping(score_job, caplog):
    held(score_job, heartbeat_age=0)
    with time_machine.travel(NOW, tick=False):
        assert jobs.job_send(score_job.pk)  # no broker: the task runs inline, finds the job busy, returns
    score_job.refresh_from_db()
    assert (score_job.state, score_job.attempts, score_job.error) == ("running", 1, "")
    assert f"job {score_job.pk} is running elsewhere" in caplog.text


@pytest.fixture
def database_down(monkeypatch):
    from forecasts import runs

    def body(*, job_id):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(runs, "question_score", body)


def test_waits_for_a_busy_job_do_not_use_up_the_retries_for_database_errors(score_job, database_down, monkeypatch):
    # 30 retries so far, 25 of them waits: this is the 6th database error, so it is retried (backing off <= 30 s).
    asked = run_delivery(score_job.pk, retries=30, waits=25, monkeypatch=monkeypatch)
    assert len(asked) == 1 and isinstance(asked[0]["exc"], OperationalError)
    assert 0 <= asked[0]["countdown"] <= 30


def test_a_database_error_is_retried_twenty_times_then_raised(score_job, database_down, monkeypatch):
    with pytest.raises(OperationalError):
        run_delivery(score_job.pk, retries=45, waits=25, monkeypatch=monkeypatch)
    score_job.refresh_from_db()
    assert score_job.state == "pending"  # not failed: whoever sends the job again may find the database back


@pytest.mark.django_db(transaction=True)
def test_requeue_sends_lost_and_unsent_jobs_but_not_live_ones(closed_question, expert):
    from datetime import timedelta

    from django.utils import timezone

    services.posterior_publish(question=closed_question, user=expert, spec=POSTERIOR_SPEC)  # scored eagerly
    long_ago = timezone.now() - timedelta(hours=1)
    lost = jobs.job_enqueue(question=closed_question, kind="aggregate")
    Job.objects.filter(pk=lost.pk).update(state="running", heartbeat_at=long_ago, queued_at=long_ago)
    live = jobs.job_enqueue(question=closed_question, kind="aggregate")
    Job.objects.filter(pk=live.pk).update(state="running", heartbeat_at=timezone.now(), queued_at=timezone.now())
    unsent = jobs.job_enqueue(question=closed_question, kind="aggregate")
    Job.objects.filter(pk=unsent.pk).update(state="pending", queued_at=None)

    sent = jobs.jobs_requeue(stale_seconds=60)

    assert sorted(sent) == sorted([lost.pk, unsent.pk])
    states = dict(Job.objects.filter(pk__in=[lost.pk, live.pk, unsent.pk]).values_list("pk", "state"))
    assert states == {lost.pk: "done", live.pk: "running", unsent.pk: "done"}


@pytest.fixture
def failed_scoring(closed_question, expert, monkeypatch):
    """The posterior is published while scoring is broken: the job fails and the question stays resolved."""
    from forecasts import runs

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
    job = jobs.job_enqueue(question=open_question, kind="aggregate")
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
