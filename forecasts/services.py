"""Every write the platform makes, and the rules about who may make it in which status.

Functions are named <entity>_<action> and take keyword-only arguments. Each runs in one transaction, so a refused
or failed call leaves nothing half-written. Background work is recorded as a Job row and sent to Celery only once
the transaction that created it has committed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from amplification import allocation
from amplification.distributions import from_spec, summarize
from amplification.errors import SpecError
from amplification.grid import Domain

from .errors import Conflict, Forbidden, Invalid
from .models import (
    AuditEvent,
    Endorsement,
    Evidence,
    Influence,
    Job,
    Posterior,
    Prediction,
    Prior,
    Question,
    Status,
)

log = logging.getLogger(__name__)
User = get_user_model()

MAX_SOURCES = 20
MAX_INFLUENCE_NOTE = 2000


# --- roles ----------------------------------------------------------------------------------------------------------


def is_organizer(user: AbstractBaseUser) -> bool:
    if not user.is_authenticated:
        return False
    return bool(user.is_staff or user.groups.filter(name="organizers").exists())


def is_expert(user: AbstractBaseUser, question: Question) -> bool:
    return user.is_authenticated and question.expert_id == user.pk


def _require_expert(user, question: Question, action: str) -> None:
    if not is_expert(user, question):
        raise Forbidden(f"only the question's expert may {action}")


def _require_expert_or_organizer(user, question: Question, action: str) -> None:
    if not (is_expert(user, question) or is_organizer(user)):
        raise Forbidden(f"only the question's expert or an organizer may {action}")


def _require_status(question: Question, allowed: Iterable[str], action: str) -> None:
    allowed = tuple(allowed)
    if question.status not in allowed:
        raise Conflict(f"cannot {action} while the question is {question.status} (allowed: {', '.join(allowed)})")


def audit(*, action: str, actor=None, question: Question | None = None, **data: Any) -> None:
    AuditEvent.objects.create(action=action, actor=actor if actor and actor.is_authenticated else None,
                              question=question, data=data)


def question_locked(question: Question) -> Question:
    """Re-read the question under a row lock so two writers cannot both pass the same status check."""
    return Question.objects.select_for_update().get(pk=question.pk)


# --- distributions --------------------------------------------------------------------------------------------------


def distribution_fields(*, spec: Any, domain: Domain) -> dict[str, Any]:
    """Turn a typed spec into the stored columns of a distribution; a bad spec is a 400 naming its field."""
    try:
        dist = from_spec(spec, domain)
    except SpecError as exc:
        raise Invalid({"spec": [str(exc)]}) from None
    return _fields_from_cdf(dist.cdf, domain, spec=spec, fit=dist.fit, notes=list(dist.notes))


@dataclass(frozen=True)
class DistributionPreview:
    """What storing a spec on a question would give, stored nowhere: the attributes a stored distribution row has
    (what StoredDistributionSerializer reads)."""

    spec: Any
    cdf: np.ndarray  # (201,) float64
    mass_below: float
    mass_above: float
    summary: dict
    fit: dict | None
    notes: list[str]


def distribution_preview(*, question: Question, spec: Any) -> DistributionPreview:
    """The distribution `spec` would be on this question, through the same validation as a stored one (the same 400
    naming the field and the rule); no row is written and no status or role is checked: the caller decides who may
    see the question."""
    fields = distribution_fields(spec=spec, domain=question.domain)
    return DistributionPreview(
        spec=fields["spec"], cdf=np.frombuffer(fields["cdf_bytes"], dtype=np.float64),
        mass_below=fields["mass_below"], mass_above=fields["mass_above"], summary=fields["summary"],
        fit=fields["fit"], notes=fields["notes"],
    )


def _fields_from_cdf(cdf: np.ndarray, domain: Domain, *, spec: Any, fit=None, notes=()) -> dict[str, Any]:
    cdf = np.ascontiguousarray(cdf, dtype=np.float64)
    fit_json = None
    if fit is not None:
        fit_json = {
            "family": fit.family,
            "params": fit.params,
            "residuals": fit.residuals,
            "max_abs_p_residual": fit.max_abs_p_residual,
            "good": fit.good,
        }
    return {
        "spec": spec,
        "cdf_bytes": cdf.tobytes(),
        "mass_below": float(cdf[0]),
        "mass_above": float(1.0 - cdf[-1]),
        "summary": summarize(cdf, domain),
        "fit": fit_json,
        "notes": list(notes),
    }


# --- questions ------------------------------------------------------------------------------------------------------


def question_create(
    *,
    created_by,
    title: str,
    description: str = "",
    unit: str = "",
    scale: str,
    lower: Any,
    upper: Any,
    open_lower: bool = False,
    open_upper: bool = False,
    closes_at: datetime,
    expert=None,
) -> Question:
    if expert is not None and expert.pk != created_by.pk and not is_organizer(created_by):
        raise Forbidden("only organizers may create a question for another expert")
    try:
        domain = Domain.create(lower=lower, upper=upper, scale=scale, open_lower=open_lower, open_upper=open_upper)
    except SpecError as exc:
        raise Invalid({exc.path: [exc.message]}) from None
    if closes_at <= timezone.now():
        raise Invalid.field("closes_at", "must be in the future")
    with transaction.atomic():
        question = Question.objects.create(
            title=title,
            description=description,
            unit=unit,
            scale=domain.scale,
            lower=domain.lower,
            upper=domain.upper,
            open_lower=domain.open_lower,
            open_upper=domain.open_upper,
            closes_at=closes_at,
            expert=expert or created_by,
            created_by=created_by,
        )
        audit(action="question.create", actor=created_by, question=question, title=title)
    return question


@transaction.atomic
def _close_if_due(question: Question, now: datetime) -> bool:
    """Close one question past its closing time. The conditional update makes it happen exactly once, whichever of
    beat or a request gets there first; only the one that closed it records the step and refreshes the pool.

    It closed at `closes_at`, not when someone first noticed: `closed_at` says so whenever beat or a request runs.
    """
    closed = Question.objects.filter(pk=question.pk, status=Status.OPEN, closes_at__lte=now).update(
        status=Status.CLOSED, closed_at=F("closes_at")
    )
    if closed:
        audit(action="question.close", question=question, reason="closes_at passed")
        job_enqueue(question=question, kind=Job.Kind.AGGREGATE)
    return bool(closed)


def question_refresh_status(question: Question, now: datetime | None = None) -> Question:
    """Close an open question whose closing time has passed (the server's clock decides)."""
    now = now or timezone.now()
    if question.status == Status.OPEN and question.is_past_close(now):
        _close_if_due(question, now)
        question.refresh_from_db()
    return question


def questions_close_due(now: datetime | None = None) -> int:
    """Close every open question past its closing time; a second run closes nothing."""
    now = now or timezone.now()
    due = Question.objects.filter(status=Status.OPEN, closes_at__lte=now).only("id")
    return sum(_close_if_due(question, now) for question in due)


@transaction.atomic
def prior_set(*, question: Question, user, spec: Any) -> Prior:
    question = question_locked(question)
    _require_expert(user, question, "set the prior")
    question_refresh_status(question)
    _require_status(question, (Status.DRAFT, Status.OPEN), "set the prior")
    if question.status == Status.OPEN and question.is_past_close():
        raise Conflict("the question has closed")
    fields = distribution_fields(spec=spec, domain=question.domain)
    prior, _ = Prior.objects.update_or_create(question=question, defaults={**fields, "updated_at": timezone.now()})
    audit(action="prior.set", actor=user, question=question, spec=spec)
    return prior


@transaction.atomic
def question_open(*, question: Question, user) -> Question:
    question = question_locked(question)
    _require_expert_or_organizer(user, question, "open the question")
    _require_status(question, (Status.DRAFT,), "open the question")
    if not Prior.objects.filter(question=question).exists():
        raise Conflict("set a prior (PUT /api/questions/{id}/prior/) before opening the question")
    if question.is_past_close():
        raise Conflict("closes_at has already passed; create a new question")
    seed = allocation.seed_new()
    question.status = Status.OPEN
    question.opened_at = timezone.now()
    question.draw_seed = seed
    question.draw_commitment = allocation.seed_commitment(seed)
    question.save(update_fields=["status", "opened_at", "draw_seed", "draw_commitment"])
    audit(action="question.open", actor=user, question=question, draw_commitment=question.draw_commitment)
    return question


@transaction.atomic
def question_close(*, question: Question, user) -> Question:
    question = question_locked(question)
    _require_expert_or_organizer(user, question, "close the question")
    _require_status(question, (Status.OPEN,), "close the question")
    question.status = Status.CLOSED
    question.closed_at = timezone.now()
    question.save(update_fields=["status", "closed_at"])
    audit(action="question.close", actor=user, question=question, reason="closed by hand")
    job_enqueue(question=question, kind=Job.Kind.AGGREGATE)
    return question


# --- evidence and predictions -------------------------------------------------------------------------------------


def _require_accepting(question: Question) -> None:
    question_refresh_status(question)
    _require_status(question, (Status.OPEN,), "post while")
    if question.is_past_close():
        raise Conflict("the question closed at " + question.closes_at.isoformat())


@transaction.atomic
def evidence_post(
    *, question: Question, author, body: str, sources: Sequence[str] = (), parent_id: int | None = None
) -> Evidence:
    question = question_locked(question)
    _require_accepting(question)
    if not body.strip():
        raise Invalid.field("body", "must not be blank")
    if len(sources) > MAX_SOURCES:
        raise Invalid.field("sources", f"at most {MAX_SOURCES} links")
    parent = None
    if parent_id is not None:
        parent = Evidence.objects.filter(pk=parent_id, question=question).first()
        if parent is None:
            raise Invalid.field("parent", f"no evidence #{parent_id} on this question")
    evidence = Evidence.objects.create(
        question=question, author=author, body=body, sources=list(sources), parent=parent
    )
    audit(action="evidence.post", actor=author, question=question, evidence=evidence.pk)
    return evidence


@transaction.atomic
def evidence_endorse(*, evidence: Evidence, user) -> Endorsement:
    """"This changed my mind": a commenter's signal to the expert. Once per user; never on one's own comment."""
    question = question_locked(evidence.question)
    _require_accepting(question)
    if evidence.author_id == user.pk:
        raise Invalid.field("evidence", "you cannot endorse your own evidence")
    endorsement, _ = Endorsement.objects.get_or_create(evidence=evidence, user=user)
    return endorsement


@transaction.atomic
def prediction_submit(*, question: Question, author, spec: Any, evidence_ids: Sequence[int] = ()) -> Prediction:
    question = question_locked(question)
    if is_expert(author, question):
        raise Forbidden("the question's expert cannot predict their own posterior")
    _require_accepting(question)
    evidence_ids = list(dict.fromkeys(evidence_ids))
    evidence = list(Evidence.objects.filter(question=question, pk__in=evidence_ids))
    missing = sorted(set(evidence_ids) - {e.pk for e in evidence})
    if missing:
        raise Invalid.field("evidence", f"no evidence {missing} on this question")
    fields = distribution_fields(spec=spec, domain=question.domain)
    # Keep the history; only the newest prediction per author is scored.
    Prediction.objects.filter(question=question, author=author, is_current=True).update(is_current=False)
    prediction = Prediction.objects.create(question=question, author=author, is_current=True, **fields)
    if evidence:
        prediction.evidence.set(evidence)
    audit(action="prediction.submit", actor=author, question=question, prediction=prediction.pk)
    _aggregate_refresh_soon(question)
    return prediction


def _aggregate_refresh_soon(question: Question) -> None:
    """Queue a refresh of the pooled forecast unless one is already waiting (it will read the newest rows).

    The caller holds the question's row lock, so two submissions cannot both see "none waiting"; closing the
    question always queues a final refresh, so a refresh that started just before a late prediction is caught up.
    """
    if not Job.objects.filter(question=question, kind=Job.Kind.AGGREGATE, state=Job.State.PENDING).exists():
        job_enqueue(question=question, kind=Job.Kind.AGGREGATE)


# --- posterior and scoring ------------------------------------------------------------------------------------------


def _validate_influence(question: Question, influence: Sequence[dict]) -> list[Influence]:
    if len(influence) > 10_000:
        raise Invalid.field("influence", "at most 10000 entries")
    seen: set[int] = set()
    author_of = dict(Evidence.objects.filter(question=question).values_list("pk", "author_id"))
    rows = []
    for i, item in enumerate(influence):
        evidence_id, weight = item.get("evidence"), item.get("weight")
        if evidence_id not in author_of:
            raise Invalid.field(f"influence[{i}].evidence", f"no evidence #{evidence_id} on this question")
        if author_of[evidence_id] == question.expert_id:
            # Influence decides the evidence prize: the expert could otherwise pay that pool to themselves.
            raise Invalid.field(f"influence[{i}].evidence", "the expert's own evidence cannot carry influence")
        if evidence_id in seen:
            raise Invalid.field(f"influence[{i}].evidence", f"evidence #{evidence_id} is listed twice")
        seen.add(evidence_id)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
            raise Invalid.field(f"influence[{i}].weight", "must be a finite number >= 0")
        note = item.get("note", "") or ""
        if len(note) > MAX_INFLUENCE_NOTE:
            raise Invalid.field(f"influence[{i}].note", f"at most {MAX_INFLUENCE_NOTE} characters")
        rows.append(Influence(question=question, evidence_id=evidence_id, weight=float(weight), note=note))
    return rows


@transaction.atomic
def posterior_publish(*, question: Question, user, spec: Any, influence: Sequence[dict] = ()) -> Posterior:
    question = question_locked(question)
    _require_expert(user, question, "publish the posterior")
    question_refresh_status(question)
    if question.status in (Status.DRAFT, Status.OPEN):
        raise Conflict(f"the posterior can be published only after the question closes (it is {question.status})")
    _require_status(question, (Status.CLOSED,), "publish the posterior")
    fields = distribution_fields(spec=spec, domain=question.domain)
    influence_rows = _validate_influence(question, influence)
    posterior = Posterior.objects.create(question=question, **fields)
    Influence.objects.bulk_create(influence_rows)
    now = timezone.now()
    question.status = Status.RESOLVED
    question.resolved_at = now
    question.save(update_fields=["status", "resolved_at"])
    audit(
        action="posterior.publish",
        actor=user,
        question=question,
        spec=spec,
        influence=[{"evidence": r.evidence_id, "weight": r.weight} for r in influence_rows],
    )
    job_enqueue(question=question, kind=Job.Kind.SCORE)
    return posterior


# --- jobs ------------------------------------------------------------------------------------------------------------


def job_enqueue(*, question: Question, kind: str, params: dict | None = None) -> Job:
    """Record a job and send it to a worker once the surrounding transaction commits.

    If the broker cannot be reached the request still succeeds: the job stays `pending` with no `queued_at`, and
    `jobs_requeue` (beat, or `manage.py jobs_requeue`) sends it again later.
    """
    job = Job.objects.create(question=question, kind=kind, params=params or {})
    transaction.on_commit(lambda: job_send(job.pk))
    return job


def job_send(job_id: int) -> bool:
    from amplification import (
        tasks,  # tasks import services; import here to keep the dependency one-way at load
    )

    job = Job.objects.get(pk=job_id)
    task = tasks.TASK_FOR_KIND[job.kind]
    try:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # Eager mode runs the task inline; mark it queued first so the job shows it was sent. A job that fails
            # has recorded its error on the Job row, which is what the client reads.
            Job.objects.filter(pk=job_id).update(queued_at=timezone.now())
            result = task.apply(args=[job_id], throw=False)
            if result.failed():
                log.error("job %s failed: %s", job_id, result.result)
        else:
            task.apply_async(args=[job_id], retry=False)
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
    if not is_organizer(user):
        raise Forbidden("only organizers may retry a job")
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


# Who is claiming: the Celery task id of the delivery running in this context (amplification.tasks sets it).
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


def job_fail(job_id: int, *, error: str) -> None:
    Job.objects.filter(pk=job_id).exclude(state=Job.State.DONE).update(
        state=Job.State.FAILED, error=error[:4000], finished_at=timezone.now()
    )


USERNAME_TAKEN = "is already taken"


def user_register(*, username: str, password: str):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    if User.objects.filter(username__iexact=username).exists():
        raise Invalid.field("username", USERNAME_TAKEN)
    user = User(username=username)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise Invalid({"password": list(exc.messages)}) from None
    user.set_password(password)
    try:
        # Two registrations of one name can both pass the check above; the database's unique username refuses the
        # second insert. The savepoint keeps the caller's transaction usable, so the loser gets the same 400.
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Invalid.field("username", USERNAME_TAKEN) from None
    return user
