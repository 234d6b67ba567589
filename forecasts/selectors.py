"""Reads: which rows each user may see."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .models import Evidence, Job, Prediction, Question, Score, Status
from .services import is_organizer

# The crowd (others' predicted posteriors, and the pooled forecast and job results computed from them) is public only
# once the expert's posterior is published, for everyone alike: before that, commenters could copy each other, an
# organizer (who may predict) could copy the crowd, and the expert's posterior would be anchored on the crowd, which
# spoils the measurement. Closing is not enough: what a commenter sees after close can still reach the expert.
# Each author always sees their own predictions.
PREDICTIONS_PUBLIC_FROM = (Status.RESOLVED, Status.SCORED, Status.AWARDED)
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
    """May this user see everyone's predictions and the pooled forecast made from them?

    The same answer for every user, organizers and the expert included; `user` stays in the signature because the
    question is asked per user.
    """
    return question.status in PREDICTIONS_PUBLIC_FROM


def predictions_visible(question: Question, user, *, current_only: bool = False) -> QuerySet[Prediction]:
    qs = question.predictions.select_related("author").prefetch_related("evidence")
    if current_only:
        qs = qs.filter(is_current=True)
    if crowd_visible(question, user):
        return qs
    if not user.is_authenticated:
        return qs.none()
    return qs.filter(author=user)


def job_result_visible(job: Job, user) -> bool:
    """May this user read what the job computed (`result`)? Its state and progress go with the question."""
    if job.kind == Job.Kind.PRIZES:
        # Amounts and the draw's winner, like the draft allocation they belong to, are for organizers.
        return is_organizer(user)
    if job.kind == Job.Kind.AGGREGATE:
        return crowd_visible(job.question, user)  # how many predictions were pooled
    return True


def scores_list(question: Question) -> QuerySet[Score]:
    """Best first; empty until the scoring job has finished, so nobody reads a half-written ranking."""
    if question.status not in SCORED_STATES:
        return Score.objects.none()
    return question.scores.select_related("author").order_by("rank", "prediction_id")
