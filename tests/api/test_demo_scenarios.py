"""The demo data reproduces the two reference runs of DESIGN.md."""

from __future__ import annotations

import math

import pytest

from forecasts.demo import load_demo
from forecasts.models import Score

pytestmark = pytest.mark.django_db(transaction=True)


def _years_after_2020(iso: str) -> float:
    from datetime import date

    return (date.fromisoformat(iso) - date(2020, 1, 1)).days / 365.25


def test_the_compute_question_matches_the_reference_run():
    compute, _ = load_demo(award=False)
    prior, posterior = compute.prior.summary, compute.posterior.summary
    assert math.log10(prior["median"]) == pytest.approx(13, abs=0.05)
    assert math.log10(posterior["median"]) == pytest.approx(9, abs=0.25)
    assert math.log10(posterior["mode"]) == pytest.approx(8, abs=0.25)


def test_the_agi_question_matches_the_reference_run():
    _, agi = load_demo(award=False)
    assert agi.prior.mass_below == pytest.approx(0.001, abs=1e-9)
    assert agi.prior.mass_above == pytest.approx(0.35, abs=1e-9)
    assert _years_after_2020(agi.prior.summary["median"]) == pytest.approx(20, abs=0.5)
    assert agi.posterior.mass_below == pytest.approx(0.03, abs=1e-9)
    assert agi.posterior.mass_above == pytest.approx(0.40, abs=1e-9)


def test_each_demo_question_ranks_close_then_no_change_then_wrong_way():
    for question in load_demo(award=False):
        ranking = list(Score.objects.filter(question=question).order_by("rank").values_list("author__username",
                                                                                              flat=True))
        assert ranking == ["alice", "bob", "carol"], question.title
