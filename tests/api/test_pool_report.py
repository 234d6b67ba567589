"""Which pool anticipates the expert: every method's KL(posterior || pool) and skill in the question report, their
means in the overall report, and the pool_compare command."""

from __future__ import annotations

import io
import math

import pytest
from django.core.management import call_command

from amplification.pooling import POOL_METHODS
from forecasts.models import Aggregate
from tests.builders import CLOSE, NO_CHANGE, WRONG_WAY, build_scored_question


def test_it_reports_every_method_against_the_posterior(scored_question, alice, client_for):
    report = client_for(alice).get(f"/api/questions/{scored_question.pk}/report/").json()
    assert [p["method"] for p in report["pools"]] == list(POOL_METHODS)
    kl_prior = report["kl_posterior_prior"]
    for entry in report["pools"]:
        stored = Aggregate.objects.get(question=scored_question, method=entry["method"]).scores
        assert entry["kl"] == stored["kl"] and entry["skill"] == stored["skill"]
        # skill = KL(posterior || prior) - KL(posterior || pool), on the same mixed prior for every pool
        assert entry["kl"] + entry["skill"] == pytest.approx(kl_prior, rel=1e-9)
    assert report["pool_method"] == "equal"


def test_it_gives_each_methods_means_across_questions(django_capture_on_commit_callbacks, expert, alice, bob,
                                                      carol, client_for):
    questions = [
        build_scored_question(django_capture_on_commit_callbacks, expert=expert, title="one",
                              predictions={alice: CLOSE, bob: NO_CHANGE, carol: WRONG_WAY}),
        build_scored_question(django_capture_on_commit_callbacks, expert=expert, title="two",
                              predictions={alice: WRONG_WAY, bob: CLOSE}),
    ]
    pools = {p["method"]: p for p in client_for(carol).get("/api/report/").json()["pools"]}
    for method in POOL_METHODS:
        scores = [Aggregate.objects.get(question=q, method=method).scores for q in questions]
        assert pools[method]["n_questions"] == 2
        assert pools[method]["mean_kl"] == pytest.approx(math.fsum(s["kl"] for s in scores) / 2, rel=1e-12)
        assert pools[method]["mean_skill"] == pytest.approx(math.fsum(s["skill"] for s in scores) / 2, rel=1e-12)


def test_it_compares_the_methods_from_the_command(scored_question):
    out = io.StringIO()
    call_command("pool_compare", stdout=out)
    text = out.getvalue()
    best = min(POOL_METHODS, key=lambda m: Aggregate.objects.get(question=scored_question, method=m).scores["kl"])
    assert all(method in text for method in POOL_METHODS)
    assert f"Best (lowest mean KL to the posterior): {best}" in text
