"""The writes of a question's lifecycle (create, prior, open, close, evidence, predictions, posterior) and accounts.

Who may make each write is asked of forecasts.permissions; prizes are written by forecasts.prizes, engine runs by
forecasts.runs, and jobs are queued through forecasts.jobs. Functions are named <entity>_<action> and take
keyword-only arguments. Each runs in one transaction, so a refused or failed call leaves nothing half-written.
Background work is recorded as a Job row and sent to Celery only once the transaction that created it has committed.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from amplification import allocation
from amplification.errors import SpecError
from amplification.grid import Domain, parse_date
from amplification.outcomes import place_outcome

from . import limits
from .audit import audit
from .errors import Conflict, Invalid, NotFound
from .forecast_log import head_sql, head_subquery, log_evidence, log_posterior, log_prediction, log_prior
from .jobs import job_enqueue
from .models import (
    ANNULLED,
    Account,
    EmailAddress,
    Endorsement,
    Evidence,
    Influence,
    Job,
    NotificationKind,
    Outcome,
    Posterior,
    Prediction,
    Prior,
    Question,
    Status,
)
from .notifications import notify, notify_question_closed, verification_send
from .permissions import (
    ACCEPTING,
    PRIOR_EDITABLE,
    question_visible,
    require_expert,
    require_expert_or_organizer,
    require_not_expert,
    require_organizer,
    require_outcome_allowed,
    require_status,
)
from .question_cache import question_changed
from .rows import insert_row
from .stored import distribution_fields

log = logging.getLogger(__name__)
User = get_user_model()

def question_locked(question: Question | int) -> Question:
    """Re-read the question (or read it, given its id) under a row lock so two writers cannot both pass the same
    status check. Whoever takes the lock may change what the question's cached views show: they are replaced once
    the transaction commits (forecasts/question_cache.py)."""
    pk = question if isinstance(question, int) else question.pk
    question_changed(pk)
    return Question.objects.select_for_update().get(pk=pk)


def question_lock_status(question_id: int) -> str:
    """Take the question's row lock and read only its status (the submission path has read the rest already).

    Unlike question_locked, it leaves the question's cached views in place: a prediction changes neither of them.
    Predictions are taken only while the question is open, and the crowd (others' predictions, the pools) is shown
    to nobody until the posterior is published; the pooled-forecast job marks the views stale when it finishes
    (jobs.job_finish). In a rush this saves two cache writes per submission."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT status FROM {Question._meta.db_table} WHERE id = %s{lock}", [question_id])
        return cursor.fetchone()[0]


# --- previews -------------------------------------------------------------------------------------------------------


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
    blind: bool = True,
) -> Question:
    if expert is not None and expert.pk != created_by.pk:
        require_organizer(created_by, "create a question for another expert")
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
            blind=blind,
        )
        audit(action="question.create", actor=created_by, question=question, title=title)
    return question


def close_grace() -> timedelta:
    """How long past closes_at a question stays open for what arrived before it (settings.FA_CLOSE_GRACE_SECONDS)."""
    return timedelta(seconds=settings.FA_CLOSE_GRACE_SECONDS)


@transaction.atomic
def _close_if_due(question: Question, now: datetime) -> bool:
    """Close one question whose closing time, plus the grace, has passed. The conditional update makes it happen
    exactly once, whichever of beat or a request gets there first; only the one that closed it records the step and
    refreshes the pool.

    It closed at `closes_at`, not when someone first noticed: `closed_at` says so whenever beat or a request runs.
    The grace (FA_CLOSE_GRACE_SECONDS) is the time in which evidence and predictions that arrived before closes_at,
    and waited in line, are still stored (_require_accepting); `closed_head` is fixed after them, so the log's closed
    head covers everything that arrived in time.
    """
    # Take the row lock first: the update's subquery then reads the log after any append still holding the lock has
    # committed (under READ COMMITTED an update that waits for a lock keeps its older snapshot for the subquery).
    question_locked(question)
    closed = Question.objects.filter(pk=question.pk, status=Status.OPEN, closes_at__lte=now - close_grace()).update(
        status=Status.CLOSED, closed_at=F("closes_at"), closed_head=head_subquery()
    )
    if closed:
        audit(action="question.close", question=question, reason="closes_at passed")
        notify_question_closed(question)
        job_enqueue(question=question, kind=Job.Kind.AGGREGATE)
    return bool(closed)


def question_due_to_close(status: str, closes_at: datetime, now: datetime | None = None) -> bool:
    """Is an open question past its closing time and grace (so a read must close it, not show it open)?"""
    return status == Status.OPEN and (now or timezone.now()) >= closes_at + close_grace()


def question_refresh_status(question: Question, now: datetime | None = None) -> Question:
    """Close an open question whose closing time and grace have passed (the server's clock decides)."""
    now = now or timezone.now()
    if question_due_to_close(question.status, question.closes_at, now):
        _close_if_due(question, now)
        question.refresh_from_db()
    return question


def questions_close_due(now: datetime | None = None) -> int:
    """Close every open question past its closing time and grace; a second run closes nothing."""
    now = now or timezone.now()
    due = Question.objects.filter(status=Status.OPEN, closes_at__lte=now - close_grace()).only("id")
    return sum(_close_if_due(question, now) for question in due)


@transaction.atomic
def prior_set(*, question: Question, user, spec: Any) -> Prior:
    question = question_locked(question)
    require_expert(user, question, "set the prior")
    question_refresh_status(question)
    require_status(question, PRIOR_EDITABLE, "set the prior")
    if question.status == Status.OPEN and question.is_past_close():
        raise Conflict("the question has closed")
    fields = distribution_fields(spec=spec, domain=question.domain)
    prior, _ = Prior.objects.update_or_create(question=question, defaults={**fields, "updated_at": timezone.now()})
    log_prior(question, prior)
    audit(action="prior.set", actor=user, question=question, spec=spec)
    return prior


@transaction.atomic
def question_open(*, question: Question, user) -> Question:
    question = question_locked(question)
    require_expert_or_organizer(user, question, "open the question")
    require_status(question, (Status.DRAFT,), "open the question")
    if not Prior.objects.filter(question=question).exists():
        raise Conflict("set a prior before opening the question")
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
    require_expert_or_organizer(user, question, "close the question")
    require_status(question, (Status.OPEN,), "close the question")
    # One update sets the status and fixes the log's head, as _close_if_due does: closed_head never changes after.
    Question.objects.filter(pk=question.pk, status=Status.OPEN).update(
        status=Status.CLOSED, closed_at=timezone.now(), closed_head=head_subquery()
    )
    question.refresh_from_db()
    audit(action="question.close", actor=user, question=question, reason="closed by hand")
    notify_question_closed(question)
    job_enqueue(question=question, kind=Job.Kind.AGGREGATE)
    return question


# --- evidence and predictions -------------------------------------------------------------------------------------


def _require_accepting(question: Question, arrived_at: datetime | None = None) -> None:
    """Evidence and predictions are taken while the question is open and only from requests that arrived before
    closes_at (close by arrival, docs/design.md). `arrived_at` is the request's arrival stamp (forecasts/arrival.py);
    without one, the time of processing. The caller holds the question's row lock.

    Exact rule: accepted iff the row, read under the lock, is `open` and the arrival is before closes_at. A question
    closed by hand refuses everything from its close on; one closed by the clock stays open until closes_at plus the
    grace, so an on-time request processed within the grace is stored, and one processed later is refused (409).
    """
    now = timezone.now()
    question_refresh_status(question, now)
    require_status(question, ACCEPTING, "post evidence or predictions")
    arrived = now if arrived_at is None else min(arrived_at, now)
    if arrived >= question.closes_at:
        raise Conflict(f"the question closed at {question.closes_at.isoformat()}; this request arrived at "
                       f"{arrived.isoformat()}, after the close")


@transaction.atomic
def evidence_post(
    *, question: Question | int, author, body: str, sources: Sequence[str] = (), parent_id: int | None = None,
    arrived_at: datetime | None = None,
) -> Evidence:
    """Post a comment (or a reply, with `parent_id`) on an open question. `question` may be its id (the API's path):
    the question is then read once, under its row lock, and a question the author may not see is a 404, as the
    visibility-filtered read of the other entry points would say."""
    try:
        question = question_locked(question)
    except Question.DoesNotExist:
        raise NotFound("no such question") from None
    if not question_visible(author, question):
        raise NotFound("no such question")
    _require_accepting(question, arrived_at)
    if not body.strip():
        raise Invalid.field("body", "must not be blank")
    if len(sources) > limits.MAX_SOURCES:
        raise Invalid.field("sources", f"at most {limits.MAX_SOURCES} links")
    posted = Evidence.objects.filter(question=question, author=author).count()
    if posted >= limits.max_evidence_per_user():
        raise Invalid.field("body", f"you have posted the most evidence allowed on one question "
                                    f"({limits.max_evidence_per_user()}, FA_MAX_EVIDENCE_PER_USER)")
    parent = None
    if parent_id is not None:
        parent = Evidence.objects.filter(pk=parent_id, question=question).first()
        if parent is None:
            raise Invalid.field("parent", f"no evidence #{parent_id} on this question")
    evidence = Evidence.objects.create(
        question=question, author=author, body=body, sources=list(sources), parent=parent
    )
    log_evidence(question, evidence)
    audit(action="evidence.post", actor=author, question=question, evidence=evidence.pk)
    if parent is not None and parent.author_id != author.pk:
        # No replier's name: on a blind question the parent's author may be the expert.
        notify(NotificationKind.EVIDENCE_REPLY, {parent.author_id: {"evidence": evidence.pk, "parent": parent.pk}},
               question=question)
    return evidence


@transaction.atomic
def evidence_endorse(*, evidence: Evidence, user, arrived_at: datetime | None = None) -> Endorsement:
    """"This changed my mind": a commenter's signal to the expert. Once per user; never on one's own comment."""
    question = question_locked(evidence.question)
    _require_accepting(question, arrived_at)
    if evidence.author_id == user.pk:
        raise Invalid.field("evidence", "you cannot endorse your own evidence")
    endorsement, _ = Endorsement.objects.get_or_create(evidence=evidence, user=user)
    return endorsement


@transaction.atomic
def prediction_submit(*, question: Question | int, author, spec: Any, evidence_ids: Sequence[int] = (),
                      arrived_at: datetime | None = None) -> Prediction:
    """Store a commenter's predicted posterior; their earlier ones stay in the history, no longer current.

    A rush of submissions on one question queues on its row lock, so the lock is taken last and held only for what
    needs it: the status and close check, the log append (seq without gaps or forks) and the pooled-forecast job
    check. Before it, the question is read once (`question` may be its id: the API's path; 404 as the
    visibility-filtered read would say), the spec parsed, and the author's own rows written under a lock on
    (question, author) alone, which keeps exactly one current prediction per author when one author submits twice
    at once. A refusal under the question's lock rolls all of it back: nothing half-written.
    The returned prediction carries its evidence, so the response needs no further query.

    This is the hot path of a rush at close (docs/benchmarks.md, issue #15), so its statements are plain SQL built
    once (forecasts/rows.py): building them through the ORM cost about a quarter of a submission's CPU.
    """
    question = _question_read(question, author, lock_for=author)
    require_not_expert(author, question)
    _require_accepting(question, arrived_at)  # a cheap refusal before the question's lock; checked again under it
    fields = distribution_fields(spec=spec, domain=question.domain)
    evidence_ids = list(dict.fromkeys(evidence_ids))
    evidence = list(Evidence.objects.filter(question=question, pk__in=evidence_ids)) if evidence_ids else []
    missing = sorted(set(evidence_ids) - {e.pk for e in evidence})
    if missing:
        raise Invalid.field("evidence", f"no evidence {missing} on this question")
    # Under the (question, author) lock: one statement for the cap and for whether there is a current prediction.
    table = Prediction._meta.db_table
    mine = "WHERE question_id = %s AND author_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN is_current THEN 1 ELSE 0 END), 0) FROM {table} {mine}",
                       [question.pk, author.pk])
        total, current = cursor.fetchone()
        if total >= limits.max_predictions_per_user():
            raise Invalid.field("spec", f"you have made the most predictions allowed on one question "
                                        f"({limits.max_predictions_per_user()}, FA_MAX_PREDICTIONS_PER_USER)")
        # Keep the history; only the newest prediction per author is scored.
        if current:
            cursor.execute(f"UPDATE {table} SET is_current = %s {mine} AND is_current", [False, question.pk, author.pk])
    row = {"question_id": question.pk, "author_id": author.pk, "is_current": True, "created_at": timezone.now(),
           **fields}
    prediction = Prediction(pk=insert_row(Prediction, **row), **row)
    prediction._state.adding, prediction._state.db = False, connection.alias
    prediction.question, prediction.author = question, author
    if evidence:
        prediction.evidence.set(evidence)
    _prefetched(prediction, "evidence", evidence)
    audit(action="prediction.submit", actor=author, question=question, prediction=prediction.pk)
    # From here to the commit, under the question's row lock: the status as it is now, the close, the log.
    question.status = question_lock_status(question.pk)
    _require_accepting(question, arrived_at)
    # After the lock, in one statement (the lock's own statement would read the head from a snapshot taken before
    # it waited): the log's head, so the append has no gap or fork, and whether a pooled-forecast refresh is waiting.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {head_sql()}, EXISTS(SELECT 1 FROM {Job._meta.db_table}"
            " WHERE question_id = %s AND kind = %s AND state = %s)",
            [question.pk, question.pk, question.pk, str(Job.Kind.AGGREGATE), str(Job.State.PENDING)],
        )
        seq, chain, pool_waiting = cursor.fetchone()
    log_prediction(question, prediction, head=(seq, chain))
    if not pool_waiting:
        _aggregate_refresh_soon(question)
    return prediction


# The columns of a question the submission path reads: its visibility, roles, status, close and domain.
_SUBMIT_COLUMNS = ("id", "status", "closes_at", "expert_id", "created_by_id", "scale", "lower", "upper",
                   "open_lower", "open_upper")


def _question_read(question: Question | int, user, *, lock_for=None) -> Question:
    """The question read once, without its row lock: 404 when there is none or the user may not see it, as the
    visibility-filtered read of the other entry points would say. Only the columns the submission uses are read;
    the others load on first access, as with `.only()`.

    `lock_for`: on PostgreSQL, the same statement takes the transaction's advisory lock on (question, that user),
    which serialises one author's submissions to one question until the commit; other authors are not held up.
    SQLite lets one writer at a time anyway."""
    pk = question if isinstance(question, int) else question.pk
    lock = ""
    params: list[Any] = [pk]
    if lock_for is not None and connection.vendor == "postgresql":
        key = ((pk & 0xFFFFFFFF) << 32) | (lock_for.pk & 0xFFFFFFFF)
        lock = ", pg_advisory_xact_lock(%s) AS author_lock"
        params.insert(0, key - (1 << 64) if key >= 1 << 63 else key)
    found = next(iter(Question.objects.raw(
        f"SELECT {', '.join(_SUBMIT_COLUMNS)}{lock} FROM {Question._meta.db_table} WHERE id = %s", params)), None)
    if found is None or not question_visible(user, found):
        raise NotFound("no such question")
    return found


def _prefetched(instance, relation: str, rows: list) -> None:
    """Fill `instance.<relation>.all()` with rows already in hand, as prefetch_related would, without a query."""
    queryset = getattr(instance, relation).all()
    queryset._result_cache = list(rows)
    queryset._prefetch_done = True
    instance._prefetched_objects_cache = {**getattr(instance, "_prefetched_objects_cache", {}), relation: queryset}


def _aggregate_refresh_soon(question: Question) -> None:
    """Queue a refresh of the pooled forecast, to run FA_POOL_DEBOUNCE_SECONDS from now. The caller has found none
    waiting, under the question's row lock (so two submissions cannot both see "none waiting"). One that is waiting
    has not started, so it will read the newest rows (the job's run takes the question's lock once before reading,
    so a submission that saw it waiting has committed by then). A rush then costs one recompute per question per
    window; closing the question always queues a final refresh at once, so the pool is fresh when it closes."""
    job_enqueue(question=question, kind=Job.Kind.AGGREGATE, countdown=settings.FA_POOL_DEBOUNCE_SECONDS)


# --- posterior and scoring ------------------------------------------------------------------------------------------


def _validate_influence(question: Question, influence: Sequence[dict]) -> list[Influence]:
    if len(influence) > limits.MAX_INFLUENCE:
        raise Invalid.field("influence", f"at most {limits.MAX_INFLUENCE} entries")
    seen: set[object] = set()
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
        if len(note) > limits.MAX_INFLUENCE_NOTE:
            raise Invalid.field(f"influence[{i}].note", f"at most {limits.MAX_INFLUENCE_NOTE} characters")
        rows.append(Influence(question=question, evidence_id=evidence_id, weight=float(weight), note=note))
    # Each weight finite is not enough: [1e308, 1e308] sums to inf, and the evidence pool could then not be split.
    if not math.isfinite(sum(r.weight for r in rows)):  # fsum raises on the overflow; sum gives inf
        raise Invalid.field("influence", "the weights' sum must be finite (scale them down)")
    return rows


@transaction.atomic
def posterior_publish(*, question: Question, user, spec: Any, influence: Sequence[dict] = ()) -> Posterior:
    question = question_locked(question)
    require_expert(user, question, "publish the posterior")
    question_refresh_status(question)
    if question.status in (Status.DRAFT, Status.OPEN):
        raise Conflict(f"the posterior can be published only after the question closes (it is {question.status})")
    require_status(question, (Status.CLOSED,), "publish the posterior")
    if Outcome.objects.filter(question=question).exists():
        raise Conflict("the outcome is already recorded: a posterior written knowing the truth measures nothing")
    fields = distribution_fields(spec=spec, domain=question.domain)
    influence_rows = _validate_influence(question, influence)
    posterior = Posterior.objects.create(question=question, **fields)
    Influence.objects.bulk_create(influence_rows)
    log_posterior(question, posterior)
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
    author_of = dict(Evidence.objects.filter(pk__in=[r.evidence_id for r in influence_rows if r.weight > 0])
                     .values_list("pk", "author_id"))
    # One row per author (an author may have several weighted comments), listing each comment's weight.
    weighted: dict[int, dict] = {}
    for row in influence_rows:
        if row.weight > 0:
            entry = weighted.setdefault(author_of[row.evidence_id], {"evidence": row.evidence_id, "weight": 0.0,
                                                                     "items": []})
            entry["items"].append({"evidence": row.evidence_id, "weight": row.weight})
            entry["weight"] += row.weight
    notify(NotificationKind.EVIDENCE_WEIGHT, weighted, question=question)
    job_enqueue(question=question, kind=Job.Kind.SCORE)
    return posterior


# --- outcome -------------------------------------------------------------------------------------------------------


OUTCOME_RECORDED = "the outcome is already recorded; it is recorded once"


@transaction.atomic
def outcome_record(*, question: Question, user, value: Any) -> Outcome:
    """Record the true value once (docs/design.md, Outcomes) and queue the job that scores every forecast against it.

    `value`: a number (linear and log scales), an ISO date (date scale), "below" / "above" (open sides only) or
    "annulled" (the question cannot resolve: stored with no bucket, and nothing is scored).
    """
    question = question_locked(question)
    require_outcome_allowed(user, question)
    if Outcome.objects.filter(question=question).exists():
        raise Conflict(OUTCOME_RECORDED)
    x: float | None = None
    bucket: int | None = None
    if value != ANNULLED:
        try:
            bucket = place_outcome(value, question.domain).bucket
        except SpecError as exc:
            raise Invalid({"value": [exc.message]}) from None
        if value not in ("below", "above"):
            # place_outcome has checked the kind: an ISO date on a date question, else a finite number.
            x = parse_date(value, "value") if question.scale == "date" else float(value)
    try:
        # Two callers can both pass the check above on a database without row locks (SQLite); the one-to-one key
        # refuses the second insert, and the savepoint keeps the transaction usable for the same 409.
        with transaction.atomic():
            outcome = Outcome.objects.create(question=question, value=value, x=x, bucket=bucket, recorded_by=user)
    except IntegrityError:
        raise Conflict(OUTCOME_RECORDED) from None
    audit(action="outcome.record", actor=user, question=question, value=value, bucket=bucket)
    if bucket is not None:
        job_enqueue(question=question, kind=Job.Kind.OUTCOME)
    return outcome


# --- accounts ---------------------------------------------------------------------------------------------------


USERNAME_TAKEN = "is already taken"
USERNAME_MIXED = "mixes Latin letters with Cyrillic or Greek ones (which look alike); use one alphabet"


def _script_of(char: str) -> str | None:
    """LATIN, CYRILLIC or GREEK for a letter of those alphabets; None for digits, marks and everything else."""
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    for script in ("LATIN", "CYRILLIC", "GREEK"):
        if name.startswith(script):
            return script
    return None


def username_canonical(username: str) -> str:
    """The name as stored: NFKC-normalised, so `organizer` typed in fullwidth letters is `organizer` (and so taken)."""
    return unicodedata.normalize("NFKC", username)


# One message for every refused address, so a refusal never tells whose account holds it.
EMAIL_REFUSED = "this email cannot be used"
LINK_EXPIRED = "this verification link has expired; ask for a new one on your settings page"
LINK_USED = "this verification link has already been used: the address is verified"
LINK_BAD = "this verification link is not valid"


def _email_arg(email: str) -> str:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise Invalid.field("email", "enter a valid email address") from None
    if EmailAddress.objects.filter(email__iexact=email, verified_at__isnull=False).exists():
        raise Invalid.field("email", EMAIL_REFUSED)
    return email


def user_register(*, username: str, password: str, address: str | None = None, email: str | None = None):
    """A new account (and its Account row with the sign-up address), with an optional email to verify. Names are
    unique without regard to case or Unicode width; a name mixing Latin with Cyrillic or Greek letters (a Cyrillic a,
    U+0430, in `alice`) is refused."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    username = username_canonical(username)
    if not limits.USERNAME_PATTERN.match(username) or len(username) > limits.MAX_USERNAME:
        raise Invalid.field("username", limits.USERNAME_RULE)
    if len({_script_of(c) for c in username} - {None}) > 1:
        raise Invalid.field("username", USERNAME_MIXED)
    if User.objects.filter(username__iexact=username).exists():
        raise Invalid.field("username", USERNAME_TAKEN)
    if email:
        email = _email_arg(email)
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
            Account.objects.create(user=user, signup_ip=address)
    except IntegrityError:
        raise Invalid.field("username", USERNAME_TAKEN) from None
    if email:
        _email_store(user, email)
    return user


def user_tokens_revoke(*, user, reason: str) -> int:
    """Delete every API token of the user (logout, a password change): a stolen token stops working at once."""
    from rest_framework.authtoken.models import Token

    deleted, _ = Token.objects.filter(user=user).delete()
    audit(action="user.tokens_revoke", actor=user, user=user.pk, reason=reason)
    return deleted


def _email_store(user, email: str) -> EmailAddress:
    """Keep `email` as the user's unverified address and mail it the signed link once this transaction commits."""
    address, _ = EmailAddress.objects.update_or_create(user=user, defaults={"email": email, "verified_at": None})
    # Password reset mails User.email: only a verified address goes there (email_verify), so an address nobody proved
    # cannot be used to take over the account.
    User.objects.filter(pk=user.pk).update(email="")

    def send() -> None:
        # Whether the mail server took it, for the page to say (set when the transaction commits; the sign-up and
        # settings pages read it on the `user` they passed in once the service has returned).
        user.verification_mailed = verification_send(address.pk)

    transaction.on_commit(send)
    return address


@transaction.atomic
def email_set(*, user, email: str) -> EmailAddress:
    """Give the account a new address (unverified until its link is followed), or send the link again."""
    current = EmailAddress.objects.filter(user=user).first()
    if current is not None and current.verified and current.email.lower() == (email or "").strip().lower():
        raise Invalid.field("email", "this address is already verified")
    return _email_store(user, _email_arg(email))


@transaction.atomic
def email_verify(*, token: str) -> EmailAddress:
    """Follow a verification link. Expired, reused and tampered links are each refused with a message saying so."""
    from django.conf import settings
    from django.core import signing

    from .notifications import VERIFY_SALT

    try:
        payload = signing.loads(token, salt=VERIFY_SALT, max_age=settings.FA_EMAIL_VERIFY_MAX_AGE)
    except signing.SignatureExpired:
        raise Invalid.field("token", LINK_EXPIRED) from None
    except signing.BadSignature:
        raise Invalid.field("token", LINK_BAD) from None
    address = EmailAddress.objects.select_for_update().filter(user_id=payload.get("u")).first()
    if address is None or address.email.lower() != payload.get("e"):
        raise Invalid.field("token", LINK_BAD + " (the account's address has changed since it was sent)")
    if address.verified:
        raise Invalid.field("token", LINK_USED)
    address.verified_at = timezone.now()
    try:
        # Another account may have verified the same address since: the partial unique key refuses the second.
        with transaction.atomic():
            address.save(update_fields=["verified_at"])
    except IntegrityError:
        raise Invalid.field("email", EMAIL_REFUSED) from None
    User.objects.filter(pk=address.user_id).update(email=address.email)
    audit(action="email.verify", actor=address.user)
    return address
