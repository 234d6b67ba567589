"""The question page and the forecast log: closed_head shows from close, the log is linked once the crowd is visible,
and the blind switch is shown and set from the new-question form."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from forecasts import services
from forecasts.models import Question
from tests.conftest import COMPUTE_QUESTION, POSTERIOR_SPEC, PRIOR_SPEC

pytestmark = pytest.mark.django_db


def html(user, question) -> str:
    client = Client()
    client.force_login(user)
    return client.get(f"/questions/{question.pk}/").content.decode()


def test_it_shows_closed_head_from_close_and_links_the_log_once_the_posterior_is_out(expert, alice):
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=7),
                                        **COMPUTE_QUESTION)
    services.prior_set(question=question, user=expert, spec=PRIOR_SPEC)
    services.question_open(question=question, user=expert)
    services.prediction_submit(question=question, author=alice, spec=PRIOR_SPEC)
    assert 'data-testid="closed-head"' not in html(alice, question)

    services.question_close(question=question, user=expert)
    question.refresh_from_db()
    page = html(alice, question)
    assert question.closed_head and question.closed_head in page
    assert 'data-testid="log-link"' not in page

    services.posterior_publish(question=question, user=expert, spec=POSTERIOR_SPEC)
    assert f'href="/api/questions/{question.pk}/log/"' in html(alice, question)


@pytest.mark.parametrize("checked", [True, False])
def test_it_creates_the_question_blind_or_not_as_the_box_says(checked, expert):
    client = Client()
    client.force_login(expert)
    closes = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    form = {"title": "Blind?", "scale": "linear", "lower": "0", "upper": "10", "closes_at": closes}
    if checked:
        form["blind"] = "on"
    assert client.post("/questions/new/", form).status_code == 302
    question = Question.objects.get(title="Blind?")
    assert question.blind is checked
    assert ("Blind weighting" in html(expert, question)) is checked
