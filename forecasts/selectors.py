"""Reads: which rows each user may see, and the read-only views built from them (leaderboards, allocations).

Who may see what is decided in forecasts.permissions; the functions here turn those answers into querysets.
"""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from amplification.pooling import POOL_METHODS
from amplification.scoring import score_predictions
from amplification.ties import competition_ranks

from .errors import Conflict, NotFound
from .models import (
    Account,
    Aggregate,
    AuditEvent,
    Competition,
    CompetitionAward,
    Evidence,
    Influence,
    Job,
    LogEntry,
    OutcomeScore,
    Prediction,
    PrizeAllocation,
    PrizeExclusion,
    Question,
    Score,
    Status,
)
from .permissions import (
    SCORED_STATES,
    authors_hidden_from,
    crowd_visible,
    is_organizer,
    log_entries_visible,
    questions_filter,
    scores_visible,
)


def questions_visible(user) -> QuerySet[Question]:
    qs = Question.objects.select_related("expert", "created_by", "prior", "posterior", "outcome")
    return qs.filter(questions_filter(user))


def evidence_list(question: Question) -> QuerySet[Evidence]:
    return question.evidence.select_related("author").annotate(n_endorsements=Count("endorsements"))


def pseudonym(index: int) -> str:
    """"Commenter A", ..., "Commenter Z", "Commenter AA", ...: the index-th (from 0) author on a question."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"Commenter {letters}"


def author_names(question: Question, user) -> dict[int, str] | None:
    """How this user sees the question's evidence authors: None for real names, or user id -> pseudonym when the
    authors are hidden from them (permissions.authors_hidden_from). Pseudonyms are lettered by each author's first
    evidence on the question, so they are stable as the thread grows; the viewer's own comments keep their name."""
    if not authors_hidden_from(user, question):
        return None
    names: dict[int, str] = {}
    for author_id in question.evidence.order_by("created_at", "id").values_list("author_id", flat=True):
        if author_id != user.pk and author_id not in names:
            names[author_id] = pseudonym(len(names))
    return names


def shown_author(evidence: Evidence, names: dict[int, str] | None) -> str:
    """The evidence author's name as this viewer sees it (author_names gives `names`)."""
    if names is not None and evidence.author_id in names:
        return names[evidence.author_id]
    return evidence.author.get_username()


def predictions_visible(question: Question, user, *, current_only: bool = False) -> QuerySet[Prediction]:
    qs = question.predictions.select_related("author").prefetch_related("evidence")
    if current_only:
        qs = qs.filter(is_current=True)
    if crowd_visible(question, user):
        return qs
    if not user.is_authenticated:
        return qs.none()
    return qs.filter(author=user)


def forecast_log(question: Question) -> dict[str, Any]:
    """`{closed_head, head, count, entries}`: a conflict before close, entries once the crowd is visible."""
    if question.status in (Status.DRAFT, Status.OPEN):
        raise Conflict(f"the forecast log is shown from close on (the question is {question.status})")
    rows = LogEntry.objects.filter(question=question).order_by("seq")
    last = rows.values_list("chain", flat=True).last()
    return {"closed_head": question.closed_head, "head": last, "count": rows.count(),
            "entries": list(rows) if log_entries_visible(question) else []}


def scores_list(question: Question) -> QuerySet[Score]:
    """Best first; empty until the scoring job has finished, so nobody reads a half-written ranking."""
    if not scores_visible(question):
        return Score.objects.none()
    return question.scores.select_related("author").order_by("rank", "prediction_id")


def influence_list(question: Question) -> QuerySet[Influence]:
    return Influence.objects.filter(question=question).select_related("evidence__author").order_by("evidence_id")


def audit_events(question: Question) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(question=question).select_related("actor").order_by("at", "id")


# --- prizes ---------------------------------------------------------------------------------------------------------


def allocations_visible(question: Question, user) -> QuerySet[PrizeAllocation]:
    """Organizers see drafts and the award; everyone else the award only."""
    qs = question.allocations.select_related("question", "created_by", "awarded_by").prefetch_related("payouts__user")
    if is_organizer(user):
        return qs
    return qs.filter(state=PrizeAllocation.State.AWARDED)


def allocation_awarded(question: Question) -> PrizeAllocation | None:
    return (question.allocations.filter(state=PrizeAllocation.State.AWARDED)
            .select_related("question", "created_by", "awarded_by").prefetch_related("payouts__user").first())


def allocation_detail(pk: int) -> PrizeAllocation:
    return (PrizeAllocation.objects.select_related("question", "created_by", "awarded_by")
            .prefetch_related("payouts__user").get(pk=pk))


def prize_exclusions(question: Question) -> QuerySet[PrizeExclusion]:
    return question.prize_exclusions.select_related("user", "created_by").order_by("created_at", "id")


def prize_review_flags(question: Question, allocations) -> dict[int, list[dict[str, Any]]]:
    """Review flags per allocation id, for organizers before they award (callers check can_review_prizes).

    A flag is ``{user, kind, reason, excluded, prediction, evidence, kl, address}``; ``reason`` says what was seen in
    words. It is a prompt to look, not a verdict: an honest forecaster can be close to the posterior. Kinds:

    - ``near_posterior``: a scored prediction within ``FA_REVIEW_KL`` nats (KL(posterior || prediction), the stored
      Score.kl) of the posterior, close enough to be a copy of it;
    - ``new_account``: a user who could be paid (a scored prediction, or evidence with positive influence) whose
      account was created after the question opened;
    - ``no_other_activity``: such a user with no evidence or prediction on any other question;
    - ``shared_address_winner`` / ``shared_address_evidence``: a user paid in this allocation, or whose evidence
      carries influence, who signed up from the same address as the question's expert (``address`` holds it).

    Flags stay on users already excluded (``excluded`` true), so the review shows what was decided and why.
    """
    allocations = list(allocations)
    if not allocations:
        return {}
    expert_id = question.expert_id
    excluded = set(PrizeExclusion.objects.filter(question=question).values_list("user_id", flat=True))
    scores = list(Score.objects.filter(question=question).exclude(author_id=expert_id)
                  .values_list("author_id", "prediction_id", "kl").order_by("rank", "prediction_id"))
    influenced = list(Influence.objects.filter(question=question, weight__gt=0)
                      .exclude(evidence__author_id=expert_id)
                      .values_list("evidence__author_id", "evidence_id", "weight").order_by("evidence_id"))
    paid = {a.pk: {p.user_id for p in a.payouts.all()} for a in allocations}
    candidates = {author for author, _, _ in scores} | {author for author, _, _ in influenced}
    involved = candidates | set().union(*paid.values()) | {expert_id}
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=involved)}
    addresses = dict(Account.objects.filter(user_id__in=involved).values_list("user_id", "signup_ip"))
    elsewhere = (set(Evidence.objects.filter(author_id__in=candidates).exclude(question=question)
                     .values_list("author_id", flat=True))
                 | set(Prediction.objects.filter(author_id__in=candidates).exclude(question=question)
                       .values_list("author_id", flat=True)))

    def flag(user_id: int, kind: str, reason: str, **details: Any) -> dict[str, Any]:
        return {"user": users[user_id].get_username(), "kind": kind, "reason": reason,
                "excluded": user_id in excluded, "prediction": details.get("prediction"),
                "evidence": details.get("evidence"), "kl": details.get("kl"), "address": details.get("address")}

    threshold = settings.FA_REVIEW_KL
    common = [
        flag(author, "near_posterior",
             f"prediction #{prediction} is {kl:.4g} nats KL from the published posterior, within the review "
             f"threshold of {threshold:g} nats: it may be a copy of the expert's answer", prediction=prediction, kl=kl)
        for author, prediction, kl in scores if kl <= threshold
    ]
    for user_id in sorted(candidates, key=lambda pk: users[pk].get_username()):
        joined = users[user_id].date_joined
        if question.opened_at is not None and joined > question.opened_at:
            common.append(flag(user_id, "new_account",
                               f"account created {joined:%Y-%m-%d %H:%M} UTC, after the question opened "
                               f"({question.opened_at:%Y-%m-%d %H:%M} UTC)"))
        if user_id not in elsewhere:
            common.append(flag(user_id, "no_other_activity",
                               "no evidence and no prediction on any other question"))
    expert_address = addresses.get(expert_id)
    flags: dict[int, list[dict[str, Any]]] = {}
    for row in allocations:
        shared = []
        if expert_address is not None:
            for user_id in sorted(paid[row.pk] - {expert_id}, key=lambda pk: users[pk].get_username()):
                if addresses.get(user_id) == expert_address:
                    total = sum((p.amount for p in row.payouts.all() if p.user_id == user_id), Decimal("0.00"))
                    shared.append(flag(user_id, "shared_address_winner",
                                       f"paid {total} {row.currency} in this allocation and signed up from the "
                                       f"same address as the expert ({expert_address})", address=expert_address))
            for author, evidence, weight in influenced:
                if addresses.get(author) == expert_address:
                    shared.append(flag(author, "shared_address_evidence",
                                       f"evidence #{evidence} carries influence weight {weight:g}, and its author "
                                       f"signed up from the same address as the expert ({expert_address})",
                                       evidence=evidence, address=expert_address))
        flags[row.pk] = sorted(common + shared, key=lambda f: (f["user"], f["kind"]))
    return flags


def question_leaderboard(question: Question) -> dict[str, Any]:
    """Scores best first with their ranks, and each row's accuracy and evidence payouts once awarded."""
    rows = list(scores_list(question))
    awarded = allocation_awarded(question)
    paid: dict[int, Decimal] = defaultdict(lambda: Decimal("0.00"))
    payouts = []
    if awarded is not None:
        for payout in awarded.payouts.all():
            paid[payout.user_id] += payout.amount
            payouts.append(payout)
    results = [
        {
            "rank": row.rank, "user": row.author.get_username(), "prediction": row.prediction_id, "kl": row.kl,
            "skill": row.skill, "crps": row.crps,
            "payout": str(paid[row.author_id]) if awarded is not None else None,
        }
        for row in rows
    ]
    return {"status": question.status, "currency": awarded.currency if awarded else None, "results": results,
            "payouts": payouts}


# --- competitions ---------------------------------------------------------------------------------------------------


def competitions_list() -> QuerySet[Competition]:
    return Competition.objects.prefetch_related("questions").order_by("-created_at", "-id")


def competition_get(pk: int) -> Competition:
    competition = Competition.objects.filter(pk=pk).first()
    if competition is None:
        raise NotFound("no such competition")
    return competition


def competition_award(competition: Competition) -> CompetitionAward | None:
    """The competition's award with its payouts, or None before it is awarded."""
    return (CompetitionAward.objects.filter(competition=competition)
            .prefetch_related("payouts__user").first())


def competition_leaderboard(competition: Competition) -> list[dict[str, Any]]:
    """Per user, across the competition's scored questions: total skill (0 where they did not predict), mean KL
    over the questions they did predict, and how many; ranked by total skill, highest first. Totals within the tie
    tolerance of their group's highest share a rank (amplification/ties.py): two users who entered the same
    distributions in different forms differ by float noise only."""
    rows = Score.objects.filter(
        question__in=competition.questions.filter(status__in=SCORED_STATES)
    ).values_list("author_id", "author__username", "skill", "kl")
    per_user: dict[int, dict[str, Any]] = {}
    for author_id, username, skill, kl in rows:
        entry = per_user.setdefault(author_id, {"user_id": author_id, "user": username, "skill": [], "kl": []})
        entry["skill"].append(skill)
        entry["kl"].append(kl)
    board = [
        {
            "user_id": e["user_id"], "user": e["user"], "total_skill": math.fsum(e["skill"]),
            "mean_kl": math.fsum(e["kl"]) / len(e["kl"]), "questions": len(e["kl"]),
        }
        for e in per_user.values()
    ]
    board.sort(key=lambda e: (-e["total_skill"], e["mean_kl"], e["user"]))
    # Sorted by total first, so the ranks never decrease down the board.
    ranks = competition_ranks(np.array([e["total_skill"] for e in board], dtype=np.float64), higher_is_better=True)
    for entry, rank in zip(board, ranks.tolist(), strict=True):
        entry["rank"] = rank
    return board


# --- the amplification report ---------------------------------------------------------------------------------

SUMMARY_FORECASTS = (OutcomeScore.Forecast.PRIOR, OutcomeScore.Forecast.POSTERIOR, OutcomeScore.Forecast.POOL)
_FORECAST_ORDER = {name: i for i, name in enumerate([*SUMMARY_FORECASTS, OutcomeScore.Forecast.PREDICTION])}


def outcome_scored(question: Question) -> bool:
    """The outcome scores show once the outcome job has finished, so nobody reads a half-written set."""
    return Job.objects.filter(question=question, kind=Job.Kind.OUTCOME, state=Job.State.DONE).exists()


def outcome_scores_list(question: Question) -> list[OutcomeScore]:
    """Prior, posterior, pool, then the predictions by id; empty until the outcome job has finished."""
    if not outcome_scored(question):
        return []
    rows = list(OutcomeScore.objects.filter(question=question).select_related("author"))
    rows.sort(key=lambda r: (_FORECAST_ORDER[r.forecast], r.prediction_id or 0))
    return rows


def _kl_posterior_prior(question: Question, aggregate) -> float | None:
    """KL(posterior || prior) in nats, the prior mixed with the scoring's uniform as a prediction is. The pool's
    stored scores give it as skill + kl (skill = KL(P || prior) - KL(P || pool)); without a pool it is computed."""
    posterior = getattr(question, "posterior", None)
    prior = getattr(question, "prior", None)
    if posterior is None or prior is None:
        return None
    if aggregate is not None and aggregate.scores:
        return aggregate.scores["skill"] + aggregate.scores["kl"]
    s = score_predictions(prior.cdf[None, :], posterior.cdf, prior.cdf, open_lower=question.open_lower,
                          open_upper=question.open_upper, uniform_mix=settings.FA_UNIFORM_MIX)
    return float(s.kl[0])


def question_report(question: Question, *, rows: bool = True) -> dict[str, Any]:
    """How much the expert moved, how well the pool anticipated it, and the forecasts scored against the outcome.
    The caller checks that the crowd is visible (permissions.crowd_visible).

    `rows=False` leaves out `outcome_scores` (every prediction's row: 100,000 on a big question) for the readers that
    show only the summary, the page and the report across questions; the summary rows and the share of predictions
    that beat the prior are read by themselves."""
    (report,) = _reports([Question.objects.select_related("prior", "posterior", "outcome").get(pk=question.pk)],
                         rows=rows)
    return report


def _reports(questions: list[Question], *, rows: bool) -> list[dict[str, Any]]:
    """The reports of these questions (read with their prior, posterior and outcome), in this order, in the same
    few statements however many they are: their stored pools; which have finished scoring against the outcome;
    those scores' summary rows; and, per question, the predictions that beat the prior and the current predictions
    of a question without a pool."""
    question_ids = [q.pk for q in questions]
    pools: dict[int, dict[str, Aggregate]] = defaultdict(dict)
    for stored in Aggregate.objects.filter(question_id__in=question_ids).only("question_id", "method", "scores",
                                                                             "n_predictions"):
        pools[stored.question_id][stored.method] = stored
    scored = set(Job.objects.filter(question_id__in=question_ids, kind=Job.Kind.OUTCOME, state=Job.State.DONE)
                 .values_list("question_id", flat=True))
    summary: dict[int, dict[str, OutcomeScore]] = defaultdict(dict)
    for row in OutcomeScore.objects.filter(question_id__in=scored, forecast__in=SUMMARY_FORECASTS):
        summary[row.question_id][row.forecast] = row
    prior_baseline = OutcomeScore.objects.filter(question_id=OuterRef("question_id"),
                                                 forecast=OutcomeScore.Forecast.PRIOR).values("baseline")[:1]
    beat = {row["question_id"]: row for row in OutcomeScore.objects.filter(
        question_id__in=[q for q in scored if OutcomeScore.Forecast.PRIOR in summary[q]],
        forecast=OutcomeScore.Forecast.PREDICTION,
    ).order_by().values("question_id").annotate(n=Count("id"), beat=Count("id", filter=Q(
        baseline__gt=Subquery(prior_baseline))))}
    default = settings.FA_POOL_DEFAULT_METHOD
    unpooled = [q for q in question_ids if default not in pools[q]]
    current = dict(Prediction.objects.filter(question_id__in=unpooled, is_current=True).order_by()
                   .values("question_id").annotate(n=Count("id")).values_list("question_id", "n"))

    def report(question: Question) -> dict[str, Any]:
        aggregate = pools[question.pk].get(default)
        pool_scores = aggregate.scores if aggregate is not None else None
        outcome = getattr(question, "outcome", None)
        sides = summary[question.pk]
        counts = beat.get(question.pk)
        return {
            "question": question.pk,
            "title": question.title,
            "status": question.status,
            "kl_posterior_prior": _kl_posterior_prior(question, aggregate),
            "kl_posterior_pool": pool_scores["kl"] if pool_scores else None,
            "pool_skill": pool_scores["skill"] if pool_scores else None,
            "pool_method": aggregate.method if aggregate is not None else None,
            "pools": _compared({method: stored.scores for method, stored in pools[question.pk].items()}),
            "n_predictions": aggregate.n_predictions if aggregate is not None else current.get(question.pk, 0),
            "outcome": {"value": outcome.value, "bucket": outcome.bucket} if outcome is not None else None,
            "annulled": bool(outcome is not None and outcome.annulled),
            "side_by_side": {
                name: ({"log_score": r.log_score, "baseline": r.baseline, "crps": r.crps} if (r := sides.get(name))
                       else None)
                for name in SUMMARY_FORECASTS
            },
            "beat_prior_share": counts["beat"] / counts["n"] if counts and counts["n"] else None,
            "scored": bool(sides),
            "outcome_scores": outcome_scores_list(question) if rows and question.pk in scored else [],
        }

    return [report(question) for question in questions]


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


REPORT_MEANS = ("kl_posterior_prior", "kl_posterior_pool", "pool_skill", "beat_prior_share")


def pools_compared(question: Question) -> list[dict[str, Any]]:
    """Every pooling method's KL(posterior || pool) and skill on this question, in POOL_METHODS order; null until
    the posterior exists (or where the pooled-forecast job has not stored that method)."""
    return _compared({a.method: a.scores for a in Aggregate.objects.filter(question=question).only("method", "scores")})


def _compared(scores_by_method: dict[str, dict | None]) -> list[dict[str, Any]]:
    return [{"method": method, "kl": (scores or {}).get("kl"), "skill": (scores or {}).get("skill")}
            for method in POOL_METHODS for scores in [scores_by_method.get(method)]]


def pools_side_by_side(question: Question) -> list[Aggregate]:
    """The stored pools of a question, one per method in POOL_METHODS order, for the page's table. The caller checks
    that the crowd is visible."""
    stored = {a.method: a for a in Aggregate.objects.filter(question=question)}
    return [stored[m] for m in POOL_METHODS if m in stored]


def pools_across(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per method, the mean KL(posterior || pool) and mean skill over the questions where that pool is scored, and
    how many those are. Lower KL anticipates the expert better."""
    out = []
    for method in POOL_METHODS:
        rows = [p for r in reports for p in r["pools"] if p["method"] == method and p["kl"] is not None]
        out.append({"method": method, "n_questions": len(rows), "mean_kl": _mean([p["kl"] for p in rows]),
                    "mean_skill": _mean([p["skill"] for p in rows])})
    return out


def reports_visible(user) -> list[dict[str, Any]]:
    """The report of every question whose crowd the user may see, newest first (a fixed number of statements)."""
    return _reports([q for q in questions_visible(user) if crowd_visible(q, user)], rows=False)


def report_across(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The means of the per-question figures (over the questions that have each), the mean outcome scores of the
    prior, posterior and pool, and how often reading the crowd moved the expert toward the truth (posterior baseline
    > prior baseline)."""
    means: dict[str, float | None] = {
        name: _mean([r[name] for r in reports if r[name] is not None]) for name in REPORT_MEANS
    }
    for forecast in SUMMARY_FORECASTS:
        means[f"{forecast}_baseline"] = _mean(
            [r["side_by_side"][forecast]["baseline"] for r in reports if r["side_by_side"][forecast]]
        )
    both = [r["side_by_side"] for r in reports if r["side_by_side"]["prior"] and r["side_by_side"]["posterior"]]
    return {
        "n_questions": len(reports),
        "n_outcomes": sum(r["outcome"] is not None for r in reports),
        "n_annulled": sum(r["annulled"] for r in reports),
        "n_outcomes_scored": sum(r["side_by_side"]["prior"] is not None for r in reports),
        "moved_toward_truth": sum(s["posterior"]["baseline"] > s["prior"]["baseline"] for s in both),
        "means": means,
        "pools": pools_across(reports),
    }
