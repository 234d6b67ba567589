"""Reads: which rows each user may see."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .models import Evidence, Prediction, Question, Score, Status
from .services import is_expert, is_organizer

# Others' predicted posteriors stay hidden while a question is open, so commenters cannot copy each other and the
# expert is not anchored by the crowd before reading the evidence.
PREDICTIONS_PUBLIC_FROM = (Status.CLOSED, Status.RESOLVED, Status.SCORED, Status.AWARDED)
# Statuses in which every current prediction has its score.
SCORED_STATES = (Status.SCORED, Status.AWARDED)


def questions_visible(user) -> QuerySet[Question]:
    qs = Question.objects.select_related("expert", "created_by", "prior", "posterior")
    if is_organizer(user):
        return qs
    # Drafts are visible only to their expert and creator.
    if not user.is_authenticated:
        return qs.exclude(status=Status.DRAFT)
    return qs.filter(~Q(status=Status.DRAFT) | Q(expert=user) | Q(created_by=user))


def evidence_list(question: Question) -> QuerySet[Evidence]:
    return question.evidence.select_related("author").annotate(n_endorsements=Count("endorsements"))


def crowd_visible(question: Question, user) -> bool:
    """May this user see everyone's predictions and the pooled forecast made from them?"""
    return question.status in PREDICTIONS_PUBLIC_FROM or is_organizer(user)


def predictions_visible(question: Question, user, *, current_only: bool = False) -> QuerySet[Prediction]:
    qs = question.predictions.select_related("author").prefetch_related("evidence")
    if current_only:
        qs = qs.filter(is_current=True)
    if crowd_visible(question, user):
        return qs
    if is_expert(user, question):
        return qs.none()
    return qs.filter(author=user)


def scores_list(question: Question) -> QuerySet[Score]:
    """Best first; empty until the scoring job has finished, so nobody reads a half-written ranking."""
    if question.status not in SCORED_STATES:
        return Score.objects.none()
    return question.scores.select_related("author").order_by("rank", "prediction_id")
