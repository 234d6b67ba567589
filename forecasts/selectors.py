"""Reads: which rows each user may see, and the read-only views built from them (leaderboards, allocations).

Who may see what is decided in forecasts.permissions; the functions here turn those answers into querysets.
"""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal
from typing import Any

import numpy as np
from django.db.models import Count, QuerySet

from amplification.ties import competition_ranks

from .errors import Conflict, NotFound
from .models import (
    AuditEvent,
    Competition,
    CompetitionAward,
    Evidence,
    Influence,
    LogEntry,
    Prediction,
    PrizeAllocation,
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
    qs = Question.objects.select_related("expert", "created_by", "prior", "posterior")
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
