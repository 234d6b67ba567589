"""The demo's ILLUSTRATIVE question is the only one with an outcome: the reference questions' truths are unknown."""

from __future__ import annotations

import pytest

from forecasts import demo
from forecasts.models import Outcome, OutcomeScore

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_gives_only_the_illustrative_demo_question_an_outcome():
    references = demo.load_demo(award=False)
    assert not Outcome.objects.filter(question__in=references).exists()
    outcome = Outcome.objects.get()
    assert outcome.question.title.startswith("ILLUSTRATIVE") and outcome.value == demo.ILLUSTRATIVE_OUTCOME
    assert OutcomeScore.objects.filter(question=outcome.question).count() == 3 + 3  # prior, posterior, pool, 3 people
