"""The demo data ends where the 2020 runs ended: both reference questions awarded, paid by their rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from amplification import allocation
from forecasts import demo
from forecasts.models import Influence, Question, Score, Status

# The demo commits as it goes (scoring runs when each question's transaction commits).
pytestmark = pytest.mark.django_db(transaction=True)

COMPUTE, AGI = (scenario.question["title"] for scenario in demo.SCENARIOS)


def _payouts(question: Question, kind: str) -> dict[str, Decimal]:
    awarded = question.allocations.get(state="awarded")
    return {p.user.username: p.amount for p in awarded.payouts.filter(kind=kind).select_related("user")}


def test_load_demo_awards_both_reference_questions_by_their_prize_rules():
    demo.load_demo()
    compute, agi = Question.objects.get(title=COMPUTE), Question.objects.get(title=AGI)
    assert (compute.status, agi.status) == (Status.AWARDED, Status.AWARDED)

    # Compute: $50 winner takes all to the best-ranked commenter, $50 evidence proportional to 3:1:0.
    best = Score.objects.filter(question=compute).order_by("rank").first().author.username
    assert best == "alice"
    assert _payouts(compute, "accuracy") == {"alice": Decimal("50.00")}
    assert _payouts(compute, "evidence") == {"alice": Decimal("37.50"), "bob": Decimal("12.50")}

    # AGI: $100 in proportion to positive skill, $100 to one drawn comment.
    skills = {str(s.prediction_id): s.skill for s in Score.objects.filter(question=agi)}
    expected = allocation.proportional_skill(Decimal("100.00"), skills)
    names = {str(s.prediction_id): s.author.username for s in Score.objects.filter(question=agi)}
    assert _payouts(agi, "accuracy") == {names[k]: v for k, v in expected.items() if v > 0}
    assert sum(_payouts(agi, "accuracy").values()) == Decimal("100.00")

    weights = {str(i.evidence_id): i.weight for i in Influence.objects.filter(question=agi)}
    winner = allocation.draw_winner(agi.draw_seed, weights)
    awarded = agi.allocations.get(state="awarded")
    [evidence_payout] = awarded.payouts.filter(kind="evidence")
    assert (str(evidence_payout.evidence_id), evidence_payout.amount) == (winner, Decimal("100.00"))
    assert awarded.draw["winner"] == winner
    assert allocation.verify_commitment(agi.draw_seed, agi.draw_commitment)

    # A second load changes nothing.
    demo.load_demo()
    assert Question.objects.count() == 3  # the two reference questions and the ILLUSTRATIVE one
