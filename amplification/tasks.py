"""Celery tasks: thin wrappers that take a job id, call the service, and retry on transient errors.

Every task is idempotent (see amplification.services), acknowledged late and re-queued if its worker dies, so a
crash or a duplicate delivery leaves exactly the rows an undisturbed run would.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, close_old_connections

from amplification import services as runs
from forecasts import services

log = logging.getLogger(__name__)

# Errors that a retry can cure: the database restarted or a connection dropped mid-job.
TRANSIENT = (OperationalError, InterfaceError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 20,
    "acks_late": True,
    "reject_on_worker_lost": True,
}


def _run(body, job_id: int):
    # A connection left broken by a database restart must not poison this attempt.
    close_old_connections()
    try:
        return body(job_id=job_id)
    except TRANSIENT:
        close_old_connections()
        raise
    except SoftTimeLimitExceeded:
        services.job_fail(job_id, error="time limit exceeded")
        raise
    except Exception as exc:
        log.exception("job %s failed", job_id)
        services.job_fail(job_id, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(name="amplification.tasks.score_question", **RETRY)
def score_question(job_id: int):
    return _run(runs.question_score, job_id)


@shared_task(name="amplification.tasks.refresh_aggregate", **RETRY)
def refresh_aggregate(job_id: int):
    return _run(runs.aggregate_refresh, job_id)


@shared_task(name="amplification.tasks.fit_prior", **RETRY)
def fit_prior(job_id: int):
    return _run(runs.prior_fit, job_id)


@shared_task(name="amplification.tasks.compute_prizes", **RETRY)
def compute_prizes(job_id: int):
    from forecasts import prizes

    return _run(prizes.prizes_compute_job, job_id)


@shared_task(name="amplification.tasks.questions_close_due")
def questions_close_due() -> int:
    close_old_connections()
    return services.questions_close_due()


@shared_task(name="amplification.tasks.jobs_requeue_stale")
def jobs_requeue_stale() -> list[int]:
    close_old_connections()
    return services.jobs_requeue()


TASK_FOR_KIND = {
    "score": score_question,
    "aggregate": refresh_aggregate,
    "fit_prior": fit_prior,
    "prizes": compute_prizes,
}
