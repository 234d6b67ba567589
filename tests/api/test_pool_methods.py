"""The pooled forecast by every method (DESIGN.md, "Pooling methods"): ?method= on the aggregate, the one-prediction
case, and the skill pool's weights from track records on earlier questions.

The expected pools are worked here from the stored predictions: a mean of CDFs, Metaculus's weights e^(sqrt(k) -
sqrt(N)) written out, e^(mean skill) from the Score rows. The quantile pool's numerics are the engine's
(tests/engine/test_pooling_methods.py); here it is only checked to be the one served.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from amplification.pooling import POOL_METHODS, quantile_pool
from forecasts import runs
from forecasts.models import Aggregate, Prediction, Score
from tests.builders import CLOSE, NO_CHANGE, WRONG_WAY, build_scored_question


def _cdfs(question, authors) -> np.ndarray:
    return np.stack([Prediction.objects.get(question=question, author=a, is_current=True).cdf for a in authors])


def _served(client, question, method) -> np.ndarray:
    response = client.get(f"/api/questions/{question.pk}/aggregate/?method={method}")
    assert response.status_code == 200, response.json()
    assert response.json()["method"] == method
    return np.array(response.json()["cdf"])


def test_it_serves_each_methods_pool_and_names_it(scored_question, alice, bob, carol, client_for):
    client = client_for(alice)
    cdfs = _cdfs(scored_question, [alice, bob, carol])  # built in this order, so oldest first
    assert np.allclose(_served(client, scored_question, "equal"), cdfs.mean(axis=0), atol=1e-12)
    # N = 3: weights e^(sqrt(k) - sqrt(3)), k = 1, 2, 3, normalised
    raw = [math.exp(math.sqrt(k) - math.sqrt(3)) for k in (1, 2, 3)]
    recency = sum(w / sum(raw) * cdf for w, cdf in zip(raw, cdfs, strict=True))
    assert np.allclose(_served(client, scored_question, "recency"), recency, atol=1e-12)
    assert not np.allclose(recency, cdfs.mean(axis=0), atol=1e-3)  # the two can be told apart
    assert np.allclose(_served(client, scored_question, "quantile"), quantile_pool(cdfs), atol=1e-12)
    # nobody has a record on an earlier question: the skill pool is the equal one
    assert np.allclose(_served(client, scored_question, "skill"), cdfs.mean(axis=0), atol=1e-12)
    default = client.get(f"/api/questions/{scored_question.pk}/aggregate/").json()
    assert default["method"] == "equal" and default["n_predictions"] == 3 and default["scores"]["kl"] > 0


def test_it_orders_recency_by_when_the_predictions_were_made(scored_question, alice, bob, carol, client_for):
    # carol's prediction dated first, alice's last: the newest weighs most whatever the ids say
    start = scored_question.closed_at - timedelta(days=3)
    for days, author in enumerate([carol, bob, alice]):
        Prediction.objects.filter(question=scored_question, author=author).update(created_at=start + timedelta(days))
    ids, authors, cdfs = runs.current_cdfs(scored_question.pk)
    runs.aggregate_store(question=scored_question, ids=ids, authors=authors, cdfs=cdfs)
    oldest_first = _cdfs(scored_question, [carol, bob, alice])
    raw = [math.exp(math.sqrt(k) - math.sqrt(3)) for k in (1, 2, 3)]
    expected = sum(w / sum(raw) * cdf for w, cdf in zip(raw, oldest_first, strict=True))
    assert np.allclose(_served(client_for(bob), scored_question, "recency"), expected, atol=1e-12)


def test_it_refuses_an_unknown_method_naming_the_allowed_ones(scored_question, alice, client_for):
    response = client_for(alice).get(f"/api/questions/{scored_question.pk}/aggregate/?method=median")
    assert response.status_code == 400
    message = response.json()["method"][0]
    assert all(method in message for method in POOL_METHODS)


def test_it_returns_the_one_prediction_by_every_method(django_capture_on_commit_callbacks, expert, alice, bob,
                                                       client_for):
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert, predictions={alice: CLOSE})
    only = _cdfs(question, [alice])[0]
    for method in POOL_METHODS:
        assert np.allclose(_served(client_for(bob), question, method), only, atol=1e-12), method
    assert Aggregate.objects.filter(question=question).count() == len(POOL_METHODS)


def _earlier_questions(capture, expert, alice, bob, n):
    """n scored questions on which alice predicts close to the posterior and bob the wrong way."""
    for i in range(n):
        build_scored_question(capture, expert=expert, predictions={alice: CLOSE, bob: WRONG_WAY},
                              title=f"earlier question {i}")


@pytest.mark.parametrize("min_count", [3, 4])
def test_it_weighs_by_record_from_the_minimum_count_on(
    django_capture_on_commit_callbacks, expert, alice, bob, client_for, settings, min_count
):
    settings.FA_POOL_SKILL_MIN_COUNT = min_count
    _earlier_questions(django_capture_on_commit_callbacks, expert, alice, bob, 3)
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: NO_CHANGE, bob: CLOSE})
    cdfs = _cdfs(question, [alice, bob])
    served = _served(client_for(expert), question, "skill")
    if min_count > 3:  # three earlier questions each: below the minimum, equal weights
        assert np.allclose(served, cdfs.mean(axis=0), atol=1e-12)
        return
    earlier = Score.objects.exclude(question=question)
    mean = {u: math.fsum(earlier.filter(author=u).values_list("skill", flat=True)) / 3 for u in (alice, bob)}
    assert mean[alice] > mean[bob]
    w_alice = math.exp(mean[alice]) / (math.exp(mean[alice]) + math.exp(mean[bob]))
    assert w_alice > 0.5
    assert np.allclose(served, w_alice * cdfs[0] + (1 - w_alice) * cdfs[1], atol=1e-12)
