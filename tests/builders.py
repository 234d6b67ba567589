"""Scored questions built through the services, for the prize, leaderboard, audit and page tests.

The fixtures made from these are in tests/api/conftest.py; tests/conftest.py has the personas (expert, alice, bob,
carol, organizer, outsider, client_for). With eager tasks the scoring job runs when the transaction commits, so
building runs inside ``django_capture_on_commit_callbacks(execute=True)``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from forecasts import demo, services
from forecasts.models import Question, Status

User = get_user_model()

QUESTION = demo.SCENARIOS[0].question
# Close to the posterior, no change from the prior, and the wrong way: skill positive, zero, negative.
CLOSE, NO_CHANGE, WRONG_WAY = demo.COMPUTE_CLOSE, demo.COMPUTE_PRIOR, demo.COMPUTE_WRONG_WAY
# One lognormal (median 1e9, 90% between 1e7 and 1e11) entered two ways. The two reach the grid through different
# float arithmetic: against the compute posterior their KLs are 0.16683660389533728 and 0.16683660389533816.
AS_INTERVAL = {"type": "lognormal", "low": 1e7, "high": 1e11}
AS_QUANTILES = {"type": "quantiles", "points": [{"p": 0.05, "x": 1e7}, {"p": 0.5, "x": 1e9}, {"p": 0.95, "x": 1e11}]}
PRIZES = {"accuracy_pool": "50.00", "evidence_pool": "50.00", "accuracy_rule": "winner_takes_all",
          "evidence_rule": "proportional"}


def build_scored_question(
    capture, *, expert, predictions: dict, evidence: dict | None = None, title: str = QUESTION["title"],
    before_close: Callable[[Question], None] | None = None,
) -> Question:
    """A question through draft -> open -> closed -> resolved -> scored.

    ``predictions``: author -> spec. ``evidence``: author -> influence weight the expert gives their one comment.
    ``before_close``: called with the open question once the predictions are in (to resubmit some, say).
    """
    evidence = evidence or {}
    with capture(execute=True):
        question = services.question_create(
            created_by=expert, closes_at=timezone.now() + timedelta(days=7), **{**QUESTION, "title": title}
        )
        services.prior_set(question=question, user=expert, spec=demo.COMPUTE_PRIOR)
        services.question_open(question=question, user=expert)
        posted = {
            author: services.evidence_post(question=question, author=author, body=f"{author.username}'s argument")
            for author in evidence
        }
        for author, spec in predictions.items():
            services.prediction_submit(question=question, author=author, spec=spec)
        if before_close is not None:
            before_close(question)
        services.question_close(question=question, user=expert)
        services.posterior_publish(
            question=question, user=expert, spec=demo.COMPUTE_POSTERIOR,
            influence=[{"evidence": posted[a].pk, "weight": w, "note": f"{a.username} moved me"}
                       for a, w in evidence.items()],
        )
    question.refresh_from_db()
    assert question.status == Status.SCORED, question.jobs.values_list("kind", "state", "error")
    return question
