"""Score rows: ranks that treat float noise as a tie, and deletes that cascade through the ORM (the rows carry no
database foreign keys; see the model)."""

from __future__ import annotations

import pytest

from forecasts.models import Prediction, Question, Score
from tests.builders import (
    AS_INTERVAL,
    AS_QUANTILES,
    CLOSE,
    NO_CHANGE,
    WRONG_WAY,
    build_scored_question,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(django_capture_on_commit_callbacks, expert, alice, bob):
    return build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                 predictions={alice: CLOSE, bob: NO_CHANGE})


def test_one_distribution_entered_two_ways_shares_rank_one(django_capture_on_commit_callbacks, expert, alice, bob,
                                                           carol):
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: AS_INTERVAL, bob: AS_QUANTILES, carol: WRONG_WAY})
    rows = {s.author.username: s for s in Score.objects.filter(question=question)}
    # The two KLs agree to float noise (today 0.16683660389533728 and ...816), which must not decide a rank.
    assert rows["alice"].kl == pytest.approx(rows["bob"].kl, rel=1e-13)
    assert {name: row.rank for name, row in rows.items()} == {"alice": 1, "bob": 1, "carol": 3}


def test_deleting_a_prediction_deletes_its_score(scored, alice):
    assert Score.objects.filter(question=scored).count() == 2
    Prediction.objects.filter(question=scored, author=alice).delete()
    assert list(Score.objects.filter(question=scored).values_list("author__username", flat=True)) == ["bob"]


def test_deleting_a_question_deletes_its_scores(scored):
    Question.objects.filter(pk=scored.pk).delete()
    assert not Score.objects.exists()
