"""Score rows carry no database foreign keys (see the model); deletes must still cascade through the ORM."""

from __future__ import annotations

import pytest

from forecasts.models import Prediction, Question, Score
from tests.api.conftest_prizes import CLOSE, NO_CHANGE, build_scored_question

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(django_capture_on_commit_callbacks, expert, alice, bob):
    return build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                 predictions={alice: CLOSE, bob: NO_CHANGE})


def test_deleting_a_prediction_deletes_its_score(scored, alice):
    assert Score.objects.filter(question=scored).count() == 2
    Prediction.objects.filter(question=scored, author=alice).delete()
    assert list(Score.objects.filter(question=scored).values_list("author__username", flat=True)) == ["bob"]


def test_deleting_a_question_deletes_its_scores(scored):
    Question.objects.filter(pk=scored.pk).delete()
    assert not Score.objects.exists()
