"""The lifecycle of background work: a Job row is recorded in the transaction that asks for it, sent to Celery once
that transaction commits, claimed by one worker at a time, beats while it runs, and ends done or failed.

This module knows tasks only by name (TASK_NAMES), so nothing here imports the task bodies (forecasts.tasks), and
the services that queue work import no Celery task either: the layers stay one-way.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .audit import audit
from .errors import Conflict
from .models import Job, NotificationKind, Question
from .notifications import notify_organizers
from .permissions import require_organizer
from .question_cache import question_changed

log = logging.getLogger(__name__)

# The Celery task that runs each kind of job. The names are what queued messages carry: keep them as they are.
TASK_NAMES = {
    Job.Kind.SCORE: "amplification.tasks.score_question",
    Job.Kind.AGGREGATE: "amplification.tasks.refresh_aggregate",
    Job.Kind.FIT_PRIOR: "amplification.tasks.fit_prior",
    Job.Kind.PRIZES: "amplification.tasks.compute_prizes",
    Job.Kind.OUTCOME: "amplification.tasks.score_outcome",
}


def job_enqueue(*, question: Question, kind: str, params: dict | None = None, countdown: float = 0.0) -> Job:
    """Record a job and send it to a worker once the surrounding transaction commits, to start `countdown` seconds
    later (the pooled forecast's debounce; in-process eager mode runs it at once).

    If the broker cannot be reached the request still succeeds: the job stays `pending` with no `queued_at`, and
    `jobs_requeue` (beat, or `manage.py jobs_requeue`) sends it again later.
    """
    job = Job.objects.create(question=question, kind=kind, params=params or {})
    transaction.on_commit(lambda: job_send(job.pk, countdown=countdown))
    return job


def job_send(job_id: int, *, countdown: float = 0.0) -> bool:
    job = Job.objects.get(pk=job_id)
    task = current_app.tasks[TASK_NAMES[job.kind]]
    try:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # Eager mode runs the task inline; mark it queued first so the job shows it was sent. A job that fails
            # has recorded its error on the Job row, which is what the client reads.
            Job.objects.filter(pk=job_id).update(queued_at=timezone.now())
            result = task.apply(args=[job_id], throw=False)
            if result.failed():
                log.error("job %s failed: %s", job_id, result.result)
        else:
            task.apply_async(args=[job_id], retry=False, countdown=countdown or None)
            Job.objects.filter(pk=job_id).update(queued_at=timezone.now())
    except Exception as exc:
        log.warning("could not queue job %s (%s); it stays pending for jobs_requeue", job_id, exc)
        return False
    return True


def jobs_requeue(*, stale_seconds: int | None = None) -> list[int]:
    """Send again every job that was never queued, and every running job whose worker stopped beating."""
    stale_seconds = settings.FA_JOB_STALE_SECONDS if stale_seconds is None else stale_seconds
    now = timezone.now()
    cutoff = now - timezone.timedelta(seconds=stale_seconds)
    never_sent = Job.objects.filter(state=Job.State.PENDING, queued_at__isnull=True)
    lost = Job.objects.filter(state=Job.State.RUNNING, heartbeat_at__lt=cutoff)
    sent_long_ago = Job.objects.filter(state=Job.State.PENDING, queued_at__lt=cutoff)
    ids = sorted(set(never_sent.values_list("pk", flat=True)) | set(lost.values_list("pk", flat=True))
                 | set(sent_long_ago.values_list("pk", flat=True)))
    return [job_id for job_id in ids if job_send(job_id)]


# A failed job made ready to send again: no error, never queued (so jobs_requeue would send it too), not finished.
_BACK_TO_PENDING = {"state": Job.State.PENDING, "error": "", "queued_at": None, "finished_at": None}


@transaction.atomic
def job_retry(*, job: Job, user) -> Job:
    """Run a failed job again (organizers): after the fault that failed it (a bug since fixed, a time limit since
    raised) is gone. It goes back to `pending` and is sent once this transaction commits; its results are upserts, so
    whatever the failed attempt wrote is overwritten, never duplicated."""
    require_organizer(user, "retry a job")
    if not Job.objects.filter(pk=job.pk, state=Job.State.FAILED).update(**_BACK_TO_PENDING):
        raise Conflict(f"job {job.pk} has not failed; only a failed job is retried")
    audit(action="job.retry", actor=user, question=job.question, job=job.pk, kind=job.kind)
    transaction.on_commit(lambda: job_send(job.pk))
    job.refresh_from_db()
    return job


def jobs_retry_failed() -> list[int]:
    """Every failed job back to pending and sent again (`manage.py jobs_requeue --failed`)."""
    with transaction.atomic():
        failed = Job.objects.select_for_update().filter(state=Job.State.FAILED).order_by("pk")
        ids = list(failed.values_list("pk", flat=True))
        Job.objects.filter(pk__in=ids).update(**_BACK_TO_PENDING)
    return [job_id for job_id in ids if job_send(job_id)]


class JobBusy(Exception):
    """The job is running in another worker whose heartbeat is fresh. `retry_in` is the number of seconds until that
    heartbeat is older than FA_JOB_CLAIM_STALE_SECONDS: ask again then, and the job is either finished (its worker
    is done) or free to take over (its worker died)."""

    def __init__(self, job_id: int, retry_in: float):
        super().__init__(f"job {job_id} is running in another worker; it may be taken over in {retry_in:.0f}s")
        self.job_id = job_id
        self.retry_in = retry_in


# Who is claiming: the Celery task id of the delivery running in this context (forecasts.tasks sets it).
claim_owner: ContextVar[str] = ContextVar("claim_owner", default="")


def job_claim(job_id: int) -> bool:
    """Mark a job running in this worker, so that one worker at a time runs it.

    True: the job is this worker's to run. False: it is done or failed (or gone), nothing to do. Raises JobBusy while
    another worker holds it, that is while the job is running with a heartbeat younger than
    FA_JOB_CLAIM_STALE_SECONDS. A running job whose heartbeat is older is taken over: its worker died (a SIGKILL, a
    lost machine), and every job writes with upserts, so the second run leaves the rows an undisturbed one would.
    A retry of the delivery that holds the job (same task id: `claim_owner`) resumes it at once.
    """
    now = timezone.now()
    stale = timedelta(seconds=settings.FA_JOB_CLAIM_STALE_SECONDS)
    owner = claim_owner.get()
    # One conditional UPDATE decides, and its row count says who won: of two deliveries racing for the job, the loser's
    # UPDATE waits for the winner's row lock, then PostgreSQL re-checks the condition against the row the winner wrote
    # (running, heartbeat fresh, someone else's) and the loser counts 0.
    held_by_nobody_alive = Q(heartbeat_at__lt=now - stale) | Q(heartbeat_at__isnull=True)
    if owner:
        held_by_nobody_alive |= Q(claimed_by=owner)
    claimable = Q(state=Job.State.PENDING) | Q(held_by_nobody_alive, state=Job.State.RUNNING)
    if Job.objects.filter(claimable, pk=job_id).update(
        state=Job.State.RUNNING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now, error="",
        claimed_by=owner,
    ):
        return True
    row = Job.objects.filter(pk=job_id).values("state", "heartbeat_at").first()
    if row is None or row["state"] in (Job.State.DONE, Job.State.FAILED):
        return False
    # Running with a fresh heartbeat; or the row changed since the UPDATE (it went stale, or back to pending): then
    # the holder's heartbeat is already as old as it needs to be, and asking again at once is right.
    heartbeat = row["heartbeat_at"] if row["state"] == Job.State.RUNNING and row["heartbeat_at"] else now - stale
    raise JobBusy(job_id, retry_in=max(0.0, (heartbeat + stale - now).total_seconds()))


def job_progress(job_id: int, *, done: int, total: int) -> None:
    Job.objects.filter(pk=job_id).update(done=done, total=total, heartbeat_at=timezone.now())


def job_finish(job_id: int, *, result: dict | None = None) -> None:
    Job.objects.filter(pk=job_id).exclude(state=Job.State.DONE).update(
        state=Job.State.DONE, result=result, finished_at=timezone.now(), heartbeat_at=timezone.now()
    )
    # What the job computed (scores, pools, a status) shows in the question's cached views.
    question_id = Job.objects.filter(pk=job_id).values_list("question_id", flat=True).first()
    if question_id is not None:
        question_changed(question_id)


def job_fail(job_id: int, *, error: str) -> None:
    """Record the failure; the organizers are told once, by whichever call moved the job to failed."""
    with transaction.atomic():
        failed = Job.objects.filter(pk=job_id).exclude(state__in=(Job.State.DONE, Job.State.FAILED)).update(
            state=Job.State.FAILED, error=error[:4000], finished_at=timezone.now()
        )
        if not failed:
            # Already failed (a second report of the same failure): keep the newest error, tell nobody again.
            Job.objects.filter(pk=job_id, state=Job.State.FAILED).update(error=error[:4000], finished_at=timezone.now())
            return
        job = Job.objects.select_related("question").get(pk=job_id)
        notify_organizers(NotificationKind.JOB_FAILED, {"job": job.pk, "kind": job.kind, "error": error[:200]},
                          question=job.question)
