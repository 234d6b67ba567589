"""Prize writes: draft an allocation of a question's two pools, award it (final), and pay competitions across
questions. The reads (allocations, leaderboards) are in forecasts.selectors.

The splitting itself is amplification.allocation (rules, cents, the verifiable draw; written up in docs/prizes.md).
This module turns stored rows into the ``{key: number}`` mappings it takes and stores what it returns:

- Accuracy entries are the question's Score rows, one per current prediction, keyed by ``str(prediction id)``.
  ``proportional_skill`` splits by skill over the prior; ``winner_takes_all`` and ``top_k`` go by the stored rank
  (the score given is ``-rank``): the rank the leaderboard shows, lowest KL first, KLs within the tie tolerance of
  amplification/ties.py sharing it. So whoever the leaderboard shows at rank 1 is exactly who winner_takes_all pays,
  and a top_k cut-off falls between ranks, never inside a group of tied predictions.
- Evidence entries are the expert's influence weights, keyed by ``str(evidence id)``. A payout goes to the comment's
  author, **one row per comment** (an author with two paid comments gets two rows), so the audit shows which comment
  earned what; the payouts CSV and the leaderboard sum them per user.
- Only positive amounts become Payout rows; an entry that earns 0.00 gets no row.
- A pool nobody can be paid from (no scored prediction, nobody with positive skill, no positive influence weight) is
  not paid: the draft says so under ``unallocated`` (pool name -> reason) and holds no payouts for it.
- The evidence draw uses the seed committed when the question opened (never a new one). Its transcript is stored on
  the allocation; the seed in it stays hidden in API responses until the award reveals it.

Every write runs in one transaction and leaves an AuditEvent.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from amplification import allocation

from .audit import audit
from .errors import Conflict, Invalid
from .jobs import job_claim, job_finish
from .limits import CURRENCY_LEN, MAX_EXCLUSION_REASON, MAX_POOL, MAX_SHARES
from .models import (
    Competition,
    CompetitionAward,
    CompetitionPayout,
    EmailAddress,
    Influence,
    Job,
    NotificationKind,
    Payout,
    PrizeAllocation,
    PrizeExclusion,
    Question,
    Score,
    Status,
)
from .notifications import notify, notify_organizers
from .permissions import SCORED_STATES, require_organizer
from .selectors import competition_leaderboard
from .services import question_locked, username_canonical

PAYABLE = "payable"
PENDING_VERIFICATION = "pending verification"


def verified_user_ids(user_ids) -> set[int]:
    """Of these users, those with a verified email: only they can be paid."""
    return set(EmailAddress.objects.filter(user_id__in=list(user_ids), verified_at__isnull=False)
               .values_list("user_id", flat=True))


# Reasons a pool may be left unpaid, by the AllocationError field the allocation module raises them on.
_NOBODY_TO_PAY_FIELDS = ("skills", "scores", "weights")


# --- input ----------------------------------------------------------------------------------------------------------


def _money_arg(value: Any, field: str) -> Decimal:
    """A pool or minimum as an exact Decimal: finite, >= 0, at most 2 decimal places, fits the column."""
    if isinstance(value, bool | float):
        # 0.1 is not a tenth; the API's DecimalField has already turned JSON numbers into Decimals.
        raise Invalid.field(field, "must be a decimal string such as \"50.00\", not a float")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise Invalid.field(field, f"{value!r} is not a decimal number") from None
    if not amount.is_finite():
        raise Invalid.field(field, "must be finite")
    if amount < 0:
        raise Invalid.field(field, "must be >= 0")
    if amount > MAX_POOL:
        raise Invalid.field(field, f"must be at most {MAX_POOL}")
    cents = amount.quantize(Decimal("0.01"))
    if cents != amount:
        raise Invalid.field(field, "must have at most 2 decimal places (a whole number of cents)")
    return cents


def _currency_arg(currency: str | None) -> str:
    currency = settings.FA_CURRENCY if currency in (None, "") else currency
    if (not isinstance(currency, str) or len(currency) != CURRENCY_LEN or not currency.isascii()
            or not currency.isalpha()):
        raise Invalid.field("currency", "must be a 3-letter ISO 4217 code such as USD")
    return currency.upper()


def _rules_arg(accuracy_rule: str, evidence_rule: str) -> None:
    if accuracy_rule not in allocation.ACCURACY_RULES:
        raise Invalid.field("accuracy_rule", f"must be one of {', '.join(allocation.ACCURACY_RULES)}")
    if evidence_rule not in allocation.EVIDENCE_RULES:
        raise Invalid.field("evidence_rule", f"must be one of {', '.join(allocation.EVIDENCE_RULES)}")


def _shares_arg(accuracy_rule: str, shares: Sequence[Any] | None) -> list[str] | None:
    if accuracy_rule != "top_k":
        if shares:
            raise Invalid.field("shares", "is only used by accuracy_rule top_k")
        return None
    if not shares:
        raise Invalid.field("shares", "is required with accuracy_rule top_k, e.g. [0.5, 0.3, 0.2]")
    if isinstance(shares, str | bytes) or not isinstance(shares, Sequence) or len(shares) > MAX_SHARES:
        raise Invalid.field("shares", f"must be a list of at most {MAX_SHARES} fractions")
    # Checked now, with a one-entry probe, so bad shares are refused even when nobody is scored yet.
    try:
        allocation.top_k(Decimal("0"), {"probe": 0}, list(shares))
    except allocation.AllocationError as exc:
        raise Invalid.field("shares", exc.message) from None
    # Kept as the decimal each share was read as, so the stored params replay exactly.
    return [str(share) for share in shares]


def _power_arg(power: Any) -> float:
    if isinstance(power, bool) or not isinstance(power, int | float | Decimal):
        raise Invalid.field("power", "must be a number")
    try:
        allocation.check_power(power)  # the rule has one home: the allocation module that applies it
    except allocation.AllocationError as exc:
        raise Invalid.field("power", exc.message) from None
    return float(power)


def _require_scored(question: Question, action: str) -> None:
    if question.status == Status.AWARDED:
        raise Conflict("prizes for this question are already awarded; an award is final")
    if question.status != Status.SCORED:
        raise Conflict(f"cannot {action} while the question is {question.status} (it must be scored first)")


# --- draft and award ------------------------------------------------------------------------------------------------


@transaction.atomic
def prizes_draft(
    *,
    question: Question,
    user,
    accuracy_pool: Any,
    evidence_pool: Any,
    accuracy_rule: str,
    evidence_rule: str,
    shares: Sequence[Any] | None = None,
    power: Any = 1.0,
    min_payout: Any = "0",
    currency: str | None = None,
) -> PrizeAllocation:
    """A draft allocation with its payouts, computed now (the job runs inline so the caller gets the payouts)."""
    question = question_locked(question)
    require_organizer(user, "compute prizes")
    _require_scored(question, "compute prizes")
    accuracy_pool = _money_arg(accuracy_pool, "accuracy_pool")
    evidence_pool = _money_arg(evidence_pool, "evidence_pool")
    _rules_arg(accuracy_rule, evidence_rule)
    params = {
        "shares": _shares_arg(accuracy_rule, shares),
        "power": _power_arg(power),
        "min_payout": str(_money_arg(min_payout, "min_payout")),
    }
    draft = PrizeAllocation.objects.create(
        question=question,
        currency=_currency_arg(currency),
        accuracy_pool=accuracy_pool,
        evidence_pool=evidence_pool,
        accuracy_rule=accuracy_rule,
        evidence_rule=evidence_rule,
        params=params,
        created_by=user,
    )
    job = Job.objects.create(question=question, kind=Job.Kind.PRIZES, params={"allocation": draft.pk})
    draft.params = {**params, "job": job.pk}
    draft.save(update_fields=["params"])
    audit(
        action="prizes.draft", actor=user, question=question, allocation=draft.pk, job=job.pk,
        accuracy_pool=str(accuracy_pool), evidence_pool=str(evidence_pool), accuracy_rule=accuracy_rule,
        evidence_rule=evidence_rule, currency=draft.currency, **params,
    )
    # Inline, inside this transaction: an input the allocation refuses (a min_payout nobody clears) rolls back the
    # draft and its job, so nothing is half-stored. The job row still records the run for GET /api/jobs/{id}/.
    prizes_compute_job(job_id=job.pk)
    draft.refresh_from_db()
    notify_organizers(NotificationKind.PRIZE_DRAFT, {"allocation": draft.pk}, question=question)
    return draft


def prizes_compute_job(*, job_id: int) -> dict | None:
    """The job body: (re)compute the payouts of the job's draft allocation.

    Idempotent: payouts are deleted and recreated in one transaction keyed on the allocation, under a lock on it,
    so a re-run gives the same rows. An awarded allocation, or any allocation of an awarded question, is frozen and
    left untouched.
    """
    if not job_claim(job_id):
        return None  # done or failed already (a job running in a live worker raises JobBusy instead)
    job = Job.objects.get(pk=job_id)
    with transaction.atomic():
        question = question_locked(job.question)
        draft = PrizeAllocation.objects.select_for_update().filter(pk=job.params.get("allocation")).first()
        if draft is None:
            job_finish(job_id, result={"skipped": "allocation deleted"})
            return None
        if draft.state != PrizeAllocation.State.DRAFT or question.status == Status.AWARDED:
            job_finish(job_id, result={"skipped": "prizes already awarded"})
            return None
        result = _recompute(question, draft)
        audit(action="prizes.compute", question=question, job=job_id, **result)
        job_finish(job_id, result=result)
    return result


def _recompute(question: Question, draft: PrizeAllocation) -> dict[str, Any]:
    """Replace a draft's payouts with freshly computed ones (the caller holds the question's and the draft's locks)."""
    payouts, draw, unallocated = _compute(question, draft)
    Payout.objects.filter(allocation=draft).delete()
    Payout.objects.bulk_create(payouts)
    draft.draw = draw
    draft.params = {**draft.params, "unallocated": unallocated}
    draft.save(update_fields=["draw", "params"])
    return {
        "allocation": draft.pk,
        "payouts": len(payouts),
        "accuracy_paid": str(sum((p.amount for p in payouts if p.kind == Payout.Kind.ACCURACY), Decimal("0.00"))),
        "evidence_paid": str(sum((p.amount for p in payouts if p.kind == Payout.Kind.EVIDENCE), Decimal("0.00"))),
        "unallocated": unallocated,
        "draw_winner": draw["winner"] if draw else None,
    }


def _run_rule(fn, *args, pool_name: str, unallocated: dict[str, str], **kwargs):
    """Call one allocation rule; "nobody to pay" leaves the pool unallocated, any other refusal is a 400."""
    try:
        return fn(*args, **kwargs)
    except allocation.AllocationError as exc:
        if exc.field in _NOBODY_TO_PAY_FIELDS:
            unallocated[pool_name] = exc.message
            return None
        raise Invalid.field(exc.field, exc.message) from None


def _compute(question: Question, draft: PrizeAllocation) -> tuple[list[Payout], dict | None, dict[str, str]]:
    unallocated: dict[str, str] = {}
    payouts: list[Payout] = []
    params = draft.params or {}

    # Users an organizer excluded from this question's prizes take part in no rule: their Score and Influence rows
    # are left out before the rules run, so the next-ranked prediction wins and the evidence pool is split without
    # them. The stored ranks keep their gap (1 excluded, 2 wins), which the rank-based rules do not mind.
    excluded = list(PrizeExclusion.objects.filter(question=question).values_list("user_id", flat=True))
    scores = list(Score.objects.filter(question=question).exclude(author_id__in=excluded)
                  .values_list("prediction_id", "author_id", "kl", "skill", "rank"))
    authors = {str(pid): author for pid, author, _, _, _ in scores}
    if not scores:
        unallocated["accuracy"] = "no scored predictions"
        accuracy = None
    elif draft.accuracy_rule == "proportional_skill":
        skills = {str(pid): skill for pid, _, _, skill, _ in scores}
        accuracy = _run_rule(allocation.allocate_accuracy, draft.accuracy_rule, draft.accuracy_pool, skills,
                             power=params.get("power", 1.0), min_payout=Decimal(params.get("min_payout", "0")),
                             pool_name="accuracy", unallocated=unallocated)
    else:
        # Higher is better for the rules: minus the rank (1 = lowest KL). The rank, not -kl, so that the tolerance
        # decides ties once, in the scoring job, and payouts can never disagree with the ranks on the leaderboard
        # (allocation's own tie check, done exactly, could differ from the float one right at the boundary).
        ranking = {str(pid): -rank for pid, _, _, _, rank in scores}
        accuracy = _run_rule(allocation.allocate_accuracy, draft.accuracy_rule, draft.accuracy_pool, ranking,
                             shares=params.get("shares"), pool_name="accuracy", unallocated=unallocated)
    for key, amount in (accuracy or {}).items():
        if amount > 0:
            payouts.append(Payout(allocation=draft, user_id=authors[key], kind=Payout.Kind.ACCURACY, amount=amount,
                                  prediction_id=int(key)))

    # The expert's own evidence never earns the evidence prize; posterior_publish refuses such influence, and rows
    # stored before that rule existed are left out here too.
    influence = list(Influence.objects.filter(question=question).exclude(evidence__author_id=question.expert_id)
                     .exclude(evidence__author_id__in=excluded)
                     .values_list("evidence_id", "evidence__author_id", "weight"))
    evidence_authors = {str(eid): author for eid, author, _ in influence}
    weights = {str(eid): weight for eid, _, weight in influence}
    draw = None
    evidence = None
    if not influence:
        unallocated["evidence"] = "the expert gave no influence weights"
    else:
        seed = None
        if draft.evidence_rule == "draw":
            if not allocation.verify_commitment(question.draw_seed, question.draw_commitment):
                raise Conflict("the question's draw seed does not match its published commitment; the draw cannot run")
            seed = question.draw_seed
        result = _run_rule(allocation.allocate_evidence, draft.evidence_rule, draft.evidence_pool, weights,
                           seed=seed, pool_name="evidence", unallocated=unallocated)
        if result is not None:
            evidence, draw = result
    for key, amount in (evidence or {}).items():
        if amount > 0:
            payouts.append(Payout(allocation=draft, user_id=evidence_authors[key], kind=Payout.Kind.EVIDENCE,
                                  amount=amount, evidence_id=int(key)))
    return payouts, draw, unallocated


@transaction.atomic
def prizes_award(*, question: Question, user, allocation_id: int | None = None) -> PrizeAllocation:
    """Make a draft final (the latest draft if no id is given): the question becomes `awarded`, its seed public."""
    question = question_locked(question)
    require_organizer(user, "award prizes")
    _require_scored(question, "award prizes")
    drafts = PrizeAllocation.objects.select_for_update().filter(question=question, state=PrizeAllocation.State.DRAFT)
    if allocation_id is None:
        draft = drafts.order_by("-created_at", "-id").first()
        if draft is None:
            raise Conflict("there is no draft allocation to award; draft one first")
    else:
        draft = drafts.filter(pk=allocation_id).first()
        if draft is None:
            raise Invalid.field("allocation", f"no draft allocation #{allocation_id} on this question")
    job = Job.objects.filter(pk=(draft.params or {}).get("job")).first()
    if job is None or job.state != Job.State.DONE:
        raise Conflict("this draft's payouts are not computed yet; wait for its job to finish")
    now = timezone.now()
    draft.state = PrizeAllocation.State.AWARDED
    draft.awarded_by = user
    draft.awarded_at = now
    try:
        # A savepoint, so the constraint one_award_per_question answers a 409 rather than breaking the transaction.
        with transaction.atomic():
            draft.save(update_fields=["state", "awarded_by", "awarded_at"])
    except IntegrityError:
        raise Conflict("prizes for this question are already awarded; an award is final") from None
    question.status = Status.AWARDED
    question.awarded_at = now
    question.save(update_fields=["status", "awarded_at"])
    payouts = list(draft.payouts.values_list("user_id", "user__username", "kind", "amount", "prediction_id",
                                             "evidence_id"))
    verified = verified_user_ids({row[0] for row in payouts})
    audit(
        action="prizes.award", actor=user, question=question, allocation=draft.pk, currency=draft.currency,
        # Revealed now: anyone can check sha256(seed) == the commitment shown since the question opened.
        draw_seed=question.draw_seed, draw_commitment=question.draw_commitment,
        draw_winner=draft.draw["winner"] if draft.draw else None,
        # A payout is made only to a verified email: the others wait, and the audit says who, at the award.
        payouts=[{"user": u, "kind": k, "amount": str(a), "prediction": p, "evidence": e,
                  "status": PAYABLE if uid in verified else PENDING_VERIFICATION}
                 for uid, u, k, a, p, e in payouts],
        pending_verification=sorted({u for uid, u, *_ in payouts if uid not in verified}),
    )
    won: dict[int, Decimal] = {}
    for uid, _, _, amount, _, _ in payouts:
        won[uid] = won.get(uid, Decimal("0.00")) + amount
    notify(NotificationKind.PRIZE_WON,
           {uid: {"amount": str(amount), "currency": draft.currency, "verified": uid in verified}
            for uid, amount in won.items()}, question=question)
    return draft


# --- fair play -------------------------------------------------------------------------------------------------------


@transaction.atomic
def prize_exclude(*, question: Question, user, username: Any, reason: Any) -> PrizeExclusion:
    """Exclude a user from a question's prizes (organizers, until the award), and recompute every draft without them.

    Their predictions and their evidence earn nothing in any draft, this one or later; the next-ranked prediction
    wins. Audited with the reason and the drafts recomputed. The expert's own rules (no predictions, no prize for
    their own evidence) are unchanged; this is for the accounts those rules cannot see, such as a second account.
    """
    question = question_locked(question)
    require_organizer(user, "exclude a user from prizes")
    if question.status == Status.AWARDED:
        raise Conflict("prizes for this question are already awarded; an award is final")
    problems: dict[str, list[str]] = {}
    name = username_canonical(username.strip()) if isinstance(username, str) else ""
    target = get_user_model().objects.filter(username__iexact=name).first() if name else None
    if target is None:
        problems["user"] = [f"no user named {username!r}"]
    elif PrizeExclusion.objects.filter(question=question, user=target).exists():
        problems["user"] = [f"{target.get_username()} is already excluded from this question's prizes"]
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        problems["reason"] = ["must not be blank: say why (e.g. a second account of the expert)"]
    elif len(reason) > MAX_EXCLUSION_REASON:
        problems["reason"] = [f"must be at most {MAX_EXCLUSION_REASON} characters"]
    if problems or target is None:
        raise Invalid(problems)
    exclusion = PrizeExclusion.objects.create(question=question, user=target, reason=reason, created_by=user)
    recomputed = [
        _recompute(question, draft)
        for draft in PrizeAllocation.objects.select_for_update().filter(question=question,
                                                                         state=PrizeAllocation.State.DRAFT)
        .order_by("id")
    ]
    audit(action="prizes.exclude", actor=user, question=question, exclusion=exclusion.pk,
          user=target.get_username(), user_id=target.pk, reason=reason, recomputed=recomputed)
    return exclusion


# --- competitions ---------------------------------------------------------------------------------------------------


@transaction.atomic
def competition_create(*, user, name: str, question_ids: Sequence[int], pool: Any,
                       currency: str | None = None) -> Competition:
    require_organizer(user, "create a competition")
    if not name or not name.strip():
        raise Invalid.field("name", "must not be blank")
    pool = _money_arg(pool, "pool")
    question_ids = list(dict.fromkeys(question_ids))
    questions = list(Question.objects.filter(pk__in=question_ids))
    missing = sorted(set(question_ids) - {q.pk for q in questions})
    if missing:
        raise Invalid.field("questions", f"no questions {missing}")
    drafts = sorted(q.pk for q in questions if q.status == Status.DRAFT)
    if drafts:
        # A draft is visible only to its expert and organizers: listing it in a competition would publish it.
        raise Invalid.field("questions", f"questions {drafts} are drafts; open them first")
    competition = Competition.objects.create(name=name.strip(), pool=pool, currency=_currency_arg(currency))
    competition.questions.set(questions)
    audit(action="competition.create", actor=user, competition=competition.pk, name=competition.name,
          questions=sorted(question_ids), pool=str(pool), currency=competition.currency)
    return competition


@transaction.atomic
def competition_award(*, competition: Competition, user) -> CompetitionAward:
    """Split the competition pool by proportional_skill over each user's total skill. Final: once per competition
    (the award's one-to-one key refuses a second).

    Every question must be scored (or awarded), so the totals no longer move.
    """
    require_organizer(user, "award a competition")
    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if CompetitionAward.objects.filter(competition=competition).exists():
        raise Conflict("this competition's prizes are already awarded; an award is final")
    questions = list(competition.questions.all())
    if not questions:
        raise Conflict("the competition has no questions")
    pending = sorted(q.pk for q in questions if q.status not in SCORED_STATES)
    if pending:
        raise Conflict(f"questions {pending} are not scored yet")
    board = competition_leaderboard(competition)
    if not board:
        raise Conflict("nobody has a score in this competition")
    try:
        split = allocation.proportional_skill(
            competition.pool, {str(e["user_id"]): e["total_skill"] for e in board}
        )
    except allocation.AllocationError as exc:
        raise Conflict(f"the pool cannot be split: {exc.message}") from None
    names = {str(e["user_id"]): e["user"] for e in board}
    paid = [(int(key), amount) for key, amount in sorted(split.items(), key=lambda kv: (-kv[1], names[kv[0]]))
            if amount > 0]
    try:
        with transaction.atomic():  # a savepoint: a racing second award is the same 409, not a broken transaction
            award = CompetitionAward.objects.create(competition=competition, pool=competition.pool,
                                                    currency=competition.currency, rule="proportional_skill",
                                                    awarded_by=user)
    except IntegrityError:
        raise Conflict("this competition's prizes are already awarded; an award is final") from None
    CompetitionPayout.objects.bulk_create(
        [CompetitionPayout(award=award, user_id=user_id, amount=amount) for user_id, amount in paid])
    audit(action="competition.award", actor=user, competition=competition.pk, award=award.pk,
          pool=str(competition.pool), currency=competition.currency, rule=award.rule,
          payouts=[{"user": names[str(u)], "user_id": u, "amount": str(a)} for u, a in paid])
    return award
