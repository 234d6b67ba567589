"""Track records: how each user's predicted posteriors fared across questions (DESIGN.md, "Pooling methods").

Two readers: the record a caller may see (`track_record`), and the records the `skill` pool weighs authors by
(`skill_records`). Only questions whose crowd is visible count (permissions.crowd_visible_filter), so a record never
reveals a prediction that is still hidden; scores exist only on scored questions anyway, and the outcome scores only
once the outcome job has finished (selectors.outcome_scored says the same for one question).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from amplification.outcomes import place_outcome
from amplification.pooling import pit_values

from .errors import NotFound
from .models import (
    CompetitionPayout,
    Evidence,
    Job,
    OutcomeScore,
    Payout,
    Prediction,
    PrizeAllocation,
    Question,
    Score,
)
from .permissions import CROWD_PUBLIC_FROM, SCORED_STATES, crowd_visible_filter, questions_filter

# Calibration histograms: PIT values counted in this many equal bins of [0, 1].
CALIBRATION_BINS = 10


def _questions_counted(viewer) -> QuerySet[Question]:
    """The questions a viewer's view of anyone's record is built from: visible to the viewer, crowd public."""
    return Question.objects.filter(questions_filter(viewer)).filter(crowd_visible_filter())


def _histogram(values: np.ndarray) -> list[int]:
    counts, _ = np.histogram(values, bins=CALIBRATION_BINS, range=(0.0, 1.0))
    return [int(c) for c in counts]


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _stack(rows: list[Any]) -> np.ndarray:
    """The predictions' CDFs of `rows` (each with a `.prediction`), one per row."""
    return np.stack([row.prediction.cdf for row in rows]) if rows else np.empty((0, 0))


def _posterior_median_u(question: Question) -> float:
    """Where the expert's posterior median lies on the question's axis u; -inf / +inf when it is in a tail (the
    engine places it as it places an outcome, so a median beyond an open bound reads as "below" / "above")."""
    posterior = question.posterior
    median = posterior.summary.get("median")
    if median is None:
        median = "below" if posterior.cdf[0] > 0.5 else "above"
    return place_outcome(median, question.domain).u


def track_record(*, username: str, viewer) -> dict[str, Any]:
    """The record of `username` as `viewer` may see it.

    - `questions_scored`, `mean_kl`, `mean_skill`: over the scored questions, the user's one scored (current)
      prediction on each against the expert's posterior; the means are null when the count is 0.
    - `outcomes_scored`, `mean_baseline`, `mean_peer`: the same predictions against the outcomes, where scored.
    - `calibration`: histograms (CALIBRATION_BINS bins of [0, 1]) of the PIT values, each prediction's CDF at the
      posterior's median (`posterior`) and at the outcome (`outcome`). A calibrated forecaster's are flat.

    NotFound for an unknown username.
    """
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound("no such user")
    questions = _questions_counted(viewer)
    scores = list(
        Score.objects.filter(author=user, question__in=questions)
        .select_related("prediction", "question__posterior").order_by("question_id")
    )
    outcome_done = Job.objects.filter(question=OuterRef("question"), kind=Job.Kind.OUTCOME, state=Job.State.DONE)
    outcomes = list(
        OutcomeScore.objects.filter(author=user, forecast=OutcomeScore.Forecast.PREDICTION, question__in=questions)
        .filter(Exists(outcome_done)).select_related("prediction", "question__outcome").order_by("question_id")
    )
    posterior_u = np.array([_posterior_median_u(s.question) for s in scores])
    placed = [r for r in outcomes if r.question.outcome.bucket is not None]  # an annulled outcome has no place
    outcome_u = np.array([place_outcome(r.question.outcome.value, r.question.domain).u for r in placed])
    return {
        "username": user.get_username(),
        "questions_scored": len(scores),
        "mean_kl": _mean([s.kl for s in scores]),
        "mean_skill": _mean([s.skill for s in scores]),
        "outcomes_scored": len(outcomes),
        "mean_baseline": _mean([r.baseline for r in outcomes]),
        "mean_peer": _mean([r.peer for r in outcomes if r.peer is not None]),
        "calibration": {
            "bins": CALIBRATION_BINS,
            "posterior": _histogram(pit_values(_stack(scores), posterior_u) if scores else np.empty(0)),
            "outcome": _histogram(pit_values(_stack(placed), outcome_u) if placed else np.empty(0)),
        },
    }


def skill_records(*, question: Question, authors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean skill, count) per author in `authors` (ids, one per current prediction of `question`) over the EARLIER
    scored questions: those whose posterior was published before `question` closed (before now while it is open).

    Fixing the cut at the close makes the skill pool of a closed question the same on every re-run, whatever is
    scored afterwards. The mean is NaN where the count is 0 (amplification.pooling.skill_pool_weights ignores it
    below its minimum count). Computed in the database over the question's current authors only.
    """
    cutoff = question.closed_at or timezone.now()
    current = Prediction.objects.filter(question=question, is_current=True).values("author_id")
    rows = (
        Score.objects.filter(question__status__in=SCORED_STATES, question__resolved_at__lt=cutoff,
                             author_id__in=current)
        .exclude(question=question)
        .values("author_id").annotate(mean=Avg("skill"), n=Count("id")).order_by("author_id")
    )
    known = np.array([(r["author_id"], r["mean"], r["n"]) for r in rows], dtype=np.float64).reshape(-1, 3)
    authors = np.asarray(authors, dtype=np.int64)
    mean_skill = np.full(authors.shape, np.nan)
    counts = np.zeros(authors.shape, dtype=np.int64)
    if len(known):
        ids = known[:, 0].astype(np.int64)
        at = np.minimum(np.searchsorted(ids, authors), len(ids) - 1)
        found = ids[at] == authors
        mean_skill[found] = known[at[found], 1]
        counts[found] = known[at[found], 2].astype(np.int64)
    return mean_skill, counts


# The most rows of each kind a user's page lists (newest first).
ACTIVITY_ROWS = 100


def user_activity(*, username: str, viewer) -> dict[str, Any]:
    """What a user's page lists besides the record, as `viewer` may see it (NotFound for an unknown username):

    - `predictions`: the user's current predictions on questions the viewer may see, only where the crowd is public,
      or all of them when the viewer is the user; each with its score once scored.
    - `evidence`: their comments on questions the viewer may see, except where blind weighting hides the authors from
      the viewer (the expert of a blind question before the posterior): a list by author would undo the pseudonyms.
    - `prizes`: their awarded question payouts and competition payouts (awards are public).
    """
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound("no such user")
    visible = Question.objects.filter(questions_filter(viewer))
    predictions = Prediction.objects.filter(author=user, is_current=True, question__in=visible)
    if not (viewer.is_authenticated and viewer.pk == user.pk):
        predictions = predictions.filter(question__in=visible.filter(crowd_visible_filter()))
    evidence = Evidence.objects.filter(author=user, question__in=visible)
    if viewer.is_authenticated:
        evidence = evidence.exclude(question__in=Question.objects.filter(blind=True, expert=viewer)
                                    .exclude(status__in=CROWD_PUBLIC_FROM))
    payouts = (Payout.objects.filter(user=user, allocation__state=PrizeAllocation.State.AWARDED)
               .select_related("allocation__question").order_by("-allocation__awarded_at", "-pk"))
    return {
        "predictions": list(predictions.select_related("question", "score").order_by("-created_at", "-pk")
                            [:ACTIVITY_ROWS]),
        "evidence": list(evidence.select_related("question").order_by("-created_at", "-pk")[:ACTIVITY_ROWS]),
        "payouts": list(payouts[:ACTIVITY_ROWS]),
        "competition_payouts": list(CompetitionPayout.objects.filter(user=user)
                                    .select_related("award__competition").order_by("-award__awarded_at")
                                    [:ACTIVITY_ROWS]),
    }
