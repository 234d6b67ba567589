"""Faults in the production stack: a worker SIGKILLed mid-scoring, a duplicate delivery, Redis down when a posterior
is published, PostgreSQL restarted under a running job. Each ends with exactly the rows an undisturbed run gives, and
no two workers ever run the job at once.

The expected scores come from amplification.scoring.score_predictions called in this process on the same arrays,
and ranks from the tie rule written out one value at a time (tests/engine/test_ties.py's reference_ranks): an
independent computation, not the worker's own earlier output.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.utils import timezone
from rest_framework.test import APIClient
from scipy import stats

from amplification.grid import N_POINTS
from amplification.scoring import score_predictions
from forecasts import jobs, services, stored
from forecasts.models import Job, Posterior, Prediction, Prior, Question, Score, Status
from tests.conftest import COMPUTE_QUESTION, POSTERIOR_SPEC, PRIOR_SPEC
from tests.engine.test_ties import reference_ranks
from tests.integration.conftest import broker_url, reset_broker_connections

User = get_user_model()

JOB_TIMEOUT = 90  # seconds a job may take to reach `done` after a fault before the test fails
WORKER_ENV = {
    # Many small chunks: the job spends long enough between its first and last chunk for a fault to land mid-way.
    "FA_SCORE_WRITE_CHUNK": "10",
    # A running job is taken over once its heartbeat is 2 s old (60 s in production), so a job whose worker died
    # goes on within seconds. The scoring job beats at every chunk, far more often.
    "FA_JOB_CLAIM_STALE_SECONDS": "2",
}


# --- Seeding ------------------------------------------------------------------------------------------------------


def lognormal_cdfs(question: Question, n: int, seed: int = 0) -> np.ndarray:
    """n valid (201,) CDFs on the question's grid: lognormals with spread medians and widths (vectorised)."""
    rng = np.random.default_rng(seed)
    x = question.domain.x_grid()
    medians = 10.0 ** rng.uniform(5.0, 15.0, size=n)
    sigmas = rng.uniform(0.5, 4.0, size=n)
    return stats.lognorm.cdf(x[None, :], s=sigmas[:, None], scale=medians[:, None])


def closed_question_with_predictions(n: int, *, seed: int = 0, tag: str = "q") -> Question:
    """A closed question (log scale, open tails) with a prior and n current predictions, one author each."""
    expert = User.objects.create_user(username=f"{tag}-expert", password=None)
    question = services.question_create(
        created_by=expert, closes_at=timezone.now() + timedelta(days=7), **COMPUTE_QUESTION
    )
    services.prior_set(question=question, user=expert, spec=PRIOR_SPEC)
    services.question_open(question=question, user=expert)
    authors = User.objects.bulk_create(
        [User(username=f"{tag}-p{i}", password="!") for i in range(n)], batch_size=5000
    )
    cdfs = lognormal_cdfs(question, n, seed)
    Prediction.objects.bulk_create(
        [
            Prediction(question=question, author=author, spec={"type": "lognormal", "seeded": i},
                       cdf_bytes=cdf.tobytes(), mass_below=float(cdf[0]), mass_above=float(1.0 - cdf[-1]),
                       summary={}, is_current=True)
            for i, (author, cdf) in enumerate(zip(authors, cdfs, strict=True))
        ],
        batch_size=2000,
    )  # fmt: skip
    return services.question_close(question=question, user=expert)


def posterior_without_sending(question: Question) -> Job:
    """Publish the expert's posterior and record the score job, but send nothing: the test decides when."""
    fields = stored.distribution_fields(spec=POSTERIOR_SPEC, domain=question.domain)
    Posterior.objects.create(question=question, **fields)
    Question.objects.filter(pk=question.pk).update(status=Status.RESOLVED, resolved_at=timezone.now())
    return Job.objects.create(question=question, kind=Job.Kind.SCORE)


def expected_scores(question: Question) -> dict[str, np.ndarray]:
    """The undisturbed result, computed here from the stored rows (ordered by prediction id)."""
    rows = list(
        Prediction.objects.filter(question=question, is_current=True).order_by("id").values_list("id", "cdf_bytes")
    )
    cdfs = np.array([np.frombuffer(bytes(b), dtype=np.float64) for _, b in rows]).reshape(len(rows), N_POINTS)
    posterior = Posterior.objects.get(question=question).cdf
    prior = Prior.objects.get(question=question).cdf
    s = score_predictions(cdfs, posterior, prior, open_lower=question.open_lower, open_upper=question.open_upper,
                          uniform_mix=settings.FA_UNIFORM_MIX)  # fmt: skip
    return {
        "prediction_id": np.array([r[0] for r in rows]),
        "kl": s.kl, "log_score": s.log_score, "skill": s.skill, "crps": s.crps, "wasserstein": s.wasserstein,
        # Competition ranking (1, 2, 2, 4), with KLs within the tie tolerance of their group's best sharing its rank:
        # the worst predictions (mass far from the posterior's) all approach one ceiling KL, and a few tie there.
        "rank": np.array(reference_ranks(s.kl.tolist()), dtype=np.int64),
    }  # fmt: skip


def assert_scores_match(question: Question, expected: dict[str, np.ndarray]) -> None:
    n = len(expected["prediction_id"])
    rows = list(
        Score.objects.filter(question=question).order_by("prediction_id").values_list(
            "prediction_id", "kl", "log_score", "skill", "crps", "wasserstein", "rank")
    )  # fmt: skip
    assert len(rows) == n, f"{len(rows)} score rows for {n} current predictions"
    got = np.array(rows, dtype=np.float64)
    np.testing.assert_array_equal(got[:, 0], expected["prediction_id"])  # exactly one row per current prediction
    for col, name in enumerate(("kl", "log_score", "skill", "crps", "wasserstein"), start=1):
        np.testing.assert_allclose(got[:, col], expected[name], rtol=1e-12, atol=0, err_msg=name)
    np.testing.assert_array_equal(got[:, 6], expected["rank"])
    assert got[:, 6].min() == 1 and got[:, 6].max() <= n


# --- Waiting ------------------------------------------------------------------------------------------------------


def job_row(job_id: int) -> dict:
    return Job.objects.values("state", "done", "total", "attempts", "error", "queued_at").get(pk=job_id)


def wait_for_job(job_id: int, *, timeout: float = JOB_TIMEOUT, workers=()) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = job_row(job_id)
        if row["state"] in (Job.State.DONE, Job.State.FAILED):
            return row
        time.sleep(0.1)
    logs = "\n".join(f"--- {w.name}\n{w.log_text()[-4000:]}" for w in workers)
    pytest.fail(f"job {job_id} did not finish within {timeout}s: {job_row(job_id)}\n{logs}", pytrace=False)


def wait_until_mid_job(job_id: int, *, timeout: float = 60, workers=()) -> dict:
    """Return as soon as the job has written some score chunks but not all (0 < done < total)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = job_row(job_id)
        if row["state"] == Job.State.RUNNING and 0 < row["done"] < row["total"]:
            return row
        if row["state"] in (Job.State.DONE, Job.State.FAILED):
            pytest.fail(f"job {job_id} finished ({row}) before the fault could be injected: use more predictions "
                        "or a smaller FA_SCORE_WRITE_CHUNK", pytrace=False)  # fmt: skip
        time.sleep(0.002)
    logs = "\n".join(f"--- {w.name}\n{w.log_text()[-4000:]}" for w in workers)
    pytest.fail(f"job {job_id} never got mid-way within {timeout}s: {job_row(job_id)}\n{logs}", pytrace=False)


def assert_scored(question: Question, job_id: int, expected: dict, *, min_attempts: int) -> dict:
    row = job_row(job_id)
    assert row["state"] == Job.State.DONE, row
    assert row["done"] == row["total"] == len(expected["prediction_id"]), row
    assert row["attempts"] >= min_attempts, row
    question.refresh_from_db()
    assert question.status == Status.SCORED
    assert question.audit.filter(action="scores.compute").count() == 1
    assert_scores_match(question, expected)
    return row


# --- The faults ---------------------------------------------------------------------------------------------------


def test_it_completes_a_score_job_whose_worker_was_killed_mid_way(celery_worker_factory):
    """SIGKILL mid-job: Redis re-delivers the unacknowledged message after FA_VISIBILITY_TIMEOUT (15 s in the
    test workers) to the next worker, which takes the job over (its heartbeat is older than
    FA_JOB_CLAIM_STALE_SECONDS) and re-runs it; the upserts leave one row per prediction."""
    question = closed_question_with_predictions(5000, tag="kill")
    job = posterior_without_sending(question)
    expected = expected_scores(question)
    worker = celery_worker_factory(extra_env=WORKER_ENV)

    assert jobs.job_send(job.pk)
    mid = wait_until_mid_job(job.pk, workers=[worker])
    worker.kill()
    after_kill = job_row(job.pk)
    assert after_kill["state"] == Job.State.RUNNING and after_kill["done"] < after_kill["total"], (mid, after_kill)
    assert Score.objects.filter(question=question).count() < 5000  # the kill really left the job half-written

    # No jobs_requeue here: the new worker gets the same message back from Redis by itself.
    replacement = celery_worker_factory(extra_env=WORKER_ENV)
    wait_for_job(job.pk, workers=[worker, replacement])
    assert_scored(question, job.pk, expected, min_attempts=2)


def test_it_does_not_run_a_job_delivered_twice_at_once_in_two_workers(celery_worker_factory):
    """Two idle workers take one delivery each: one claims the job; the other finds it running with a fresh
    heartbeat, comes back when that heartbeat would be stale, finds the job done and stops."""
    from forecasts.tasks import score_question

    question = closed_question_with_predictions(5000, seed=1, tag="dup")
    job = posterior_without_sending(question)
    expected = expected_scores(question)
    workers = [celery_worker_factory(extra_env=WORKER_ENV) for _ in range(2)]

    # Two messages for one job (two task ids), as when jobs_requeue re-sends a job whose worker is alive but slow.
    score_question.apply_async(args=[job.pk], retry=False)
    score_question.apply_async(args=[job.pk], retry=False)
    wait_for_job(job.pk, workers=workers)
    # Both deliveries have finished: the one that ran the job, and the one that waited (its last retry found the job
    # done).
    # Only the scoring task's own "succeeded" lines: the job's side effects (the pooled forecast, the notifications'
    # send task) succeed in the same workers' logs.
    done = re.compile(r"amplification\.tasks\.score_question\[[^\]]+\] succeeded in")

    def succeeded() -> int:
        return sum(len(done.findall(w.log_text())) for w in workers)

    deadline = time.monotonic() + JOB_TIMEOUT
    while succeeded() < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert succeeded() == 2, [w.log_text()[-3000:] for w in workers]
    logs = [w.log_text() for w in workers]
    # The second delivery arrived while the first ran, and waited instead of running the job too.
    assert any(f"job {job.pk} is busy" in log for log in logs), [t[-3000:] for t in logs]
    assert job_row(job.pk)["attempts"] == 1
    assert_scored(question, job.pk, expected, min_attempts=1)


def test_it_keeps_the_job_pending_when_redis_is_down_at_publish_and_requeue_sends_it(
    celery_worker_factory, own_redis
):
    question = closed_question_with_predictions(200, seed=2, tag="redis")
    client = APIClient()
    client.force_authenticate(question.expert)

    with broker_url(own_redis.url):
        own_redis.stop()
        started = time.monotonic()
        response = client.put(f"/api/questions/{question.pk}/posterior/", {"spec": POSTERIOR_SPEC}, format="json")
        elapsed = time.monotonic() - started
        assert response.status_code == 200, response.content
        assert elapsed < 10, f"publishing with the broker down took {elapsed:.1f}s"
        job = Job.objects.get(question=question, kind=Job.Kind.SCORE)
        assert response.json()["job"] == job.pk
        row = job_row(job.pk)
        assert row["state"] == Job.State.PENDING and row["queued_at"] is None, row
        question.refresh_from_db()
        assert question.status == Status.RESOLVED
        expected = expected_scores(question)

        own_redis.start()
        reset_broker_connections()  # the pooled connection to the killed server is dead
        worker = celery_worker_factory(broker_url=own_redis.url)
        call_command("jobs_requeue", stdout=open("/dev/null", "w"))  # noqa: SIM115
        assert job_row(job.pk)["queued_at"] is not None
        wait_for_job(job.pk, workers=[worker])

    assert_scored(question, job.pk, expected, min_attempts=1)


def test_it_finishes_a_score_job_across_a_postgresql_restart(celery_worker_factory, pg_restart):
    question = closed_question_with_predictions(5000, seed=3, tag="pg")
    job = posterior_without_sending(question)
    expected = expected_scores(question)
    worker = celery_worker_factory(extra_env=WORKER_ENV)

    assert jobs.job_send(job.pk)
    wait_until_mid_job(job.pk, workers=[worker])
    pg_restart()
    # This process's connection died with the server: drop it as a request boundary would.
    close_old_connections()
    connection.close()

    row = wait_for_job(job.pk, workers=[worker])
    assert row["state"] == Job.State.DONE, (row, worker.log_text()[-4000:])
    assert "Retry in" in worker.log_text(), "the restart did not interrupt the job; nothing was tested"
    assert_scored(question, job.pk, expected, min_attempts=2)
