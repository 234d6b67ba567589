"""Track records (DESIGN.md, "Pooling methods"): GET /api/users/{username}/record/ counts only questions whose crowd
the caller may see, means against a hand computation from the Score rows, and the calibration histograms.

The compute question's axis is 1e2..1e18 on a log scale: u = ln(x / 1e2) / ln(1e16).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from amplification.grid import U_GRID
from forecasts import services
from forecasts.models import OutcomeScore, Prediction, Score
from tests.builders import CLOSE, NO_CHANGE, WRONG_WAY, build_scored_question


def _record(client, username):
    response = client.get(f"/api/users/{username}/record/")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("persona", ["expert", "bob", "outsider"])
def test_it_never_counts_a_question_whose_crowd_is_hidden(
    django_capture_on_commit_callbacks, open_question, expert, alice, bob, outsider, client_for, persona
):
    scored = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                   predictions={alice: CLOSE, bob: WRONG_WAY})
    hidden = services.prediction_submit(question=open_question, author=alice, spec=CLOSE)
    # No job scores an open question; a stray row (a restore from backup, a bug elsewhere) must still not show.
    Score.objects.create(question=open_question, prediction=hidden, author=alice, kl=0.0, log_score=0.0,
                         skill=1e6, crps=0.0, wasserstein=0.0, rank=1)
    caller = {"expert": expert, "bob": bob, "outsider": outsider}[persona]
    record = _record(client_for(caller), "alice")
    visible = Score.objects.get(question=scored, author=alice)
    assert record["questions_scored"] == 1
    assert record["mean_skill"] == pytest.approx(visible.skill, abs=1e-12)
    assert sum(record["calibration"]["posterior"]) == 1


def test_it_gives_the_means_of_the_score_rows_and_nulls_for_none(
    django_capture_on_commit_callbacks, expert, alice, bob, carol, client_for
):
    first = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                  predictions={alice: CLOSE, bob: NO_CHANGE}, title="first")
    second = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                   predictions={alice: WRONG_WAY, bob: CLOSE}, title="second")
    rows = [Score.objects.get(question=q, author=alice) for q in (first, second)]
    record = _record(client_for(carol), "alice")
    assert record["username"] == "alice" and record["questions_scored"] == 2
    assert record["mean_kl"] == pytest.approx((rows[0].kl + rows[1].kl) / 2, rel=1e-12)
    assert record["mean_skill"] == pytest.approx((rows[0].skill + rows[1].skill) / 2, rel=1e-12)
    assert record["outcomes_scored"] == 0 and record["mean_baseline"] is None and record["mean_peer"] is None
    nobody = _record(client_for(alice), "carol")
    assert nobody["questions_scored"] == 0 and nobody["mean_kl"] is None and nobody["mean_skill"] is None
    assert nobody["calibration"]["posterior"] == [0] * 10


def test_it_is_404_for_an_unknown_user(db, alice, client_for):
    assert client_for(alice).get("/api/users/nobody-here/record/").status_code == 404


def _pit_bin(question, author, x: float) -> int:
    """The bin (of ten) of the author's CDF at x, read off the stored grid by linear interpolation."""
    u = math.log(x / 1e2) / math.log(1e16)
    cdf = Prediction.objects.get(question=question, author=author, is_current=True).cdf
    return min(int(np.interp(u, U_GRID, cdf) * 10), 9)


def test_it_counts_where_the_posterior_median_and_the_outcome_fell(
    django_capture_on_commit_callbacks, expert, alice, bob, client_for
):
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: WRONG_WAY, bob: CLOSE})
    median = float(question.posterior.summary["median"])
    record = _record(client_for(bob), "alice")
    expected = [0] * 10
    expected[_pit_bin(question, alice, median)] = 1
    assert record["calibration"]["posterior"] == expected
    assert expected.index(1) <= 1  # alice's wrong-way forecast had the posterior's median deep in her left tail
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(expert).post(f"/api/questions/{question.pk}/outcome/", {"value": 1e16},
                                       format="json").status_code == 200
    record = _record(client_for(bob), "alice")
    row = OutcomeScore.objects.get(question=question, author=alice)
    assert record["outcomes_scored"] == 1
    assert record["mean_baseline"] == pytest.approx(row.baseline, rel=1e-12)
    assert record["mean_peer"] == pytest.approx(row.peer, rel=1e-12)
    at_outcome = [0] * 10
    at_outcome[_pit_bin(question, alice, 1e16)] = 1
    assert record["calibration"]["outcome"] == at_outcome
