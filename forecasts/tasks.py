"""Celery tasks: thin wrappers that take a job id, call the service, and retry on transient errors.

The task names keep their first home ("amplification.tasks.*"): messages already queued carry them.

Every task is idempotent (see forecasts/runs.py), acknowledged late and re-queued if its worker dies, so a
crash leaves exactly the rows an undisturbed run would. One worker runs a job at a time (jobs.job_claim): a
delivery that finds its job running in another, live worker (a duplicate delivery) comes back when that worker's
heartbeat would be stale, and then finds the job done, or takes it over from a worker that died.
"""

from __future__ import annotations

import logging
from math import ceil

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections

from . import jobs, notifications, prizes, runs, services

log = logging.getLogger(__name__)

# Errors that a retry can cure: the database restarted or a connection dropped mid-job.
TRANSIENT = (OperationalError, InterfaceError)
TRANSIENT_RETRIES = 20  # backing off 1, 2, 4 .. 30 s (jittered): minutes of database outage
TRANSIENT_BACKOFF_MAX = 30
TASK = {
    "bind": True,  # for self.retry
    # Celery counts every retry of a message in one number (request.retries) against one max_retries. Waiting for a
    # job that another worker holds is no failure: _run counts the waits apart (they travel in the message) and
    # applies a limit to each cause, so none here.
    "max_retries": None,
    "acks_late": True,
    "reject_on_worker_lost": True,
}


def _run(task, body, job_id: int, waits: int):
    # A connection left broken by a database restart must not poison this attempt.
    close_old_connections()
    # The claim is this delivery's: its retries (same task id) resume it, other deliveries wait (jobs.job_claim).
    owner = jobs.claim_owner.set(task.request.id or "")
    try:
        return body(job_id=job_id)
    except jobs.JobBusy as busy:
        return _wait_for_holder(task, busy, waits)
    except TRANSIENT as exc:
        close_old_connections()
        failures = task.request.retries - waits  # retries so far for transient errors
        if failures >= TRANSIENT_RETRIES:
            raise
        countdown = get_exponential_backoff_interval(
            factor=1, retries=failures, maximum=TRANSIENT_BACKOFF_MAX, full_jitter=True
        )
        raise task.retry(exc=exc, countdown=countdown) from exc
    except SoftTimeLimitExceeded:
        jobs.job_fail(job_id, error="time limit exceeded")
        raise
    except Exception as exc:
        log.exception("job %s failed", job_id)
        jobs.job_fail(job_id, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        jobs.claim_owner.reset(owner)


def _wait_for_holder(task, busy: jobs.JobBusy, waits: int) -> None:
    """Another worker runs the job: come back just after its heartbeat would be stale. By then that worker has
    finished (the retry finds the job done and stops) or it died (the retry takes the job over)."""
    if task.request.is_eager:
        # No broker (the in-process mode): nothing can come back later, and Celery would run an eager retry at once,
        # in a loop. The holder finishes the job; if it died, jobs_requeue sends the job again.
        log.warning("job %s is running elsewhere; not run here", busy.job_id)
        return None
    # A live holder runs for at most the task time limit (then it is killed and its heartbeat goes stale), and each
    # wait lasts at least a second, so a legitimate run never uses up this many waits. Running out (a heartbeat that
    # never goes stale: a clock far ahead) drops only this delivery: the job stays with its holder, and jobs_requeue
    # sends it again if that holder stops beating.
    if waits >= settings.CELERY_TASK_TIME_LIMIT + settings.FA_JOB_CLAIM_STALE_SECONDS + 10:
        log.error("job %s: still running elsewhere after %s waits; this delivery gives up", busy.job_id, waits)
        return None
    # Not past half the visibility timeout: a countdown message waits unacknowledged in the worker that took it, and
    # Redis hands a message left unacknowledged that long to a second worker.
    countdown = max(1, min(ceil(busy.retry_in) + 1, settings.FA_VISIBILITY_TIMEOUT // 2))
    log.info("job %s is busy (its heartbeat is fresh); trying again in %ss", busy.job_id, countdown)
    raise task.retry(args=[busy.job_id], kwargs={"waits": waits + 1}, countdown=countdown)


@shared_task(name="amplification.tasks.score_question", **TASK)
def score_question(self, job_id: int, waits: int = 0):
    return _run(self, runs.question_score, job_id, waits)


@shared_task(name="amplification.tasks.refresh_aggregate", **TASK)
def refresh_aggregate(self, job_id: int, waits: int = 0):
    return _run(self, runs.aggregate_refresh, job_id, waits)


@shared_task(name="amplification.tasks.fit_prior", **TASK)
def fit_prior(self, job_id: int, waits: int = 0):
    return _run(self, runs.prior_fit, job_id, waits)


@shared_task(name="amplification.tasks.compute_prizes", **TASK)
def compute_prizes(self, job_id: int, waits: int = 0):
    return _run(self, prizes.prizes_compute_job, job_id, waits)


@shared_task(name="amplification.tasks.score_outcome", **TASK)
def score_outcome(self, job_id: int, waits: int = 0):
    return _run(self, runs.outcome_score, job_id, waits)


@shared_task(name="amplification.tasks.questions_close_due")
def questions_close_due() -> int:
    close_old_connections()
    return services.questions_close_due()


@shared_task(name="amplification.tasks.jobs_requeue_stale")
def jobs_requeue_stale() -> list[int]:
    close_old_connections()
    return jobs.jobs_requeue()



# Mail: an SMTP server that is down or refuses is worth retrying; the claimed rows of a failed send are released first
# (notifications._send_each), so the retry mails them, and rows already mailed stay claimed and are not sent again.
MAIL_RETRY = {"autoretry_for": (OSError, *TRANSIENT), "retry_backoff": True, "retry_backoff_max": 300,
              "max_retries": 10, "acks_late": True}


@shared_task(name="amplification.tasks.send_notifications", **MAIL_RETRY)
def send_notifications() -> int:
    close_old_connections()
    return notifications.notifications_send()


@shared_task(name="amplification.tasks.send_digests", **MAIL_RETRY)
def send_digests() -> int:
    close_old_connections()
    return notifications.digests_send()


@shared_task(name="amplification.tasks.posterior_reminders")
def posterior_reminders() -> int:
    close_old_connections()
    return notifications.posterior_reminders_send()
