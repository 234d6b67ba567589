"""The demo data reproduces the two reference runs of docs/design.md."""

from __future__ import annotations

import json
import math
import re

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


def test_the_question_pages_name_the_tails_in_the_questions_terms(client):
    compute, agi = load_demo(award=False)
    page = client.get(f"/questions/{agi.pk}/").content.decode()
    # the date question's tails are "already" and "never", in the table and in the plot (drawn by static/js/plot.js
    # from the data the page embeds: the tails' names, and each distribution's masses there)
    assert "<th>already</th><th>after 2100-12-31 or never</th>" in page
    plot = json.loads(re.search(r'<script id="results-plot-data" type="application/json">(.*?)</script>', page,
                                re.S).group(1))
    assert (plot["axis"]["tail_below"], plot["axis"]["tail_above"]) == ("already", "after 2100-12-31 or never")
    posterior = next(s for s in plot["series"] if s["key"] == "posterior")
    assert (round(posterior["mass_below"], 3), round(posterior["mass_above"], 3)) == (0.03, 0.4)
    page = client.get(f"/questions/{compute.pk}/").content.decode()
    assert "<th>below 100</th><th>above 1e+18</th>" in page
    # every score the platform computes is shown, Wasserstein included
    assert "Wasserstein (axis)</th>" in page
    w = Score.objects.get(question=compute, author__username="alice").wasserstein
    assert f"<td>{w:.5f}</td>" in page
