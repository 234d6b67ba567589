"""Close by arrival (docs/design.md): a request counts when it reached the platform, not when it was processed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from forecasts import services
from forecasts.arrival import parse_request_start
from forecasts.models import Evidence, LogEntry, Prediction, Question
from tests.conftest import POSTERIOR_SPEC

pytestmark = pytest.mark.django_db


def _post_prediction(client, question):
    return client.post(f"/api/questions/{question.pk}/predictions/", {"spec": POSTERIOR_SPEC}, format="json")


def _post_stamped(client, question, stamp: str):
    return client.post(f"/api/questions/{question.pk}/predictions/", {"spec": POSTERIOR_SPEC}, format="json",
                       HTTP_X_REQUEST_START=stamp)


@pytest.fixture
def lock_waits_until(monkeypatch):
    """Make the services' row lock return only at `when`: the request arrived, then waited in line past the close."""
    def make(traveller, when):
        for name in ("question_locked", "question_lock_status"):
            original = getattr(services, name)

            def slow_lock(*args, _original=original, **kwargs):
                traveller.move_to(when)
                return _original(*args, **kwargs)

            monkeypatch.setattr(services, name, slow_lock)

    return make


def test_it_stores_a_prediction_that_arrived_before_the_close_and_was_processed_after(
    client_for, open_question, bob, lock_waits_until
):
    with time_machine.travel(open_question.closes_at - timedelta(milliseconds=300), tick=False) as traveller:
        lock_waits_until(traveller, open_question.closes_at + timedelta(seconds=2))
        response = _post_prediction(client_for(bob), open_question)
        assert timezone.now() > open_question.closes_at  # processed after the close
    assert response.status_code == 201, response.json()
    assert Prediction.objects.filter(author=bob, is_current=True).count() == 1


def test_it_refuses_a_prediction_that_arrived_after_the_close(client_for, open_question, bob):
    with time_machine.travel(open_question.closes_at + timedelta(milliseconds=1), tick=False):
        response = _post_prediction(client_for(bob), open_question)
    assert response.status_code == 409
    assert "arrived" in response.json()["detail"]
    assert not Prediction.objects.filter(author=bob).exists()


def test_it_refuses_an_on_time_arrival_processed_after_the_grace(client_for, open_question, bob, lock_waits_until):
    late = open_question.closes_at + services.close_grace() + timedelta(seconds=1)
    with time_machine.travel(open_question.closes_at - timedelta(seconds=1), tick=False) as traveller:
        lock_waits_until(traveller, late)
        response = _post_prediction(client_for(bob), open_question)
    assert response.status_code == 409
    assert not Prediction.objects.filter(author=bob).exists()


def test_it_ignores_a_forged_request_start_header_when_no_proxy_is_configured(client_for, open_question, bob):
    forged = f"t={(open_question.closes_at - timedelta(hours=1)).timestamp():.3f}"
    with time_machine.travel(open_question.closes_at + timedelta(seconds=1), tick=False):
        response = _post_stamped(client_for(bob), open_question, forged)
    assert response.status_code == 409
    assert not Prediction.objects.filter(author=bob).exists()


def test_it_uses_the_trusted_proxys_stamp_when_configured(client_for, open_question, bob, settings):
    settings.FA_REQUEST_START_HEADER = "X-Request-Start"
    stamp = f"t={(open_question.closes_at - timedelta(seconds=1)).timestamp():.3f}"
    with time_machine.travel(open_question.closes_at + timedelta(seconds=1), tick=False):
        response = _post_stamped(client_for(bob), open_question, stamp)
    assert response.status_code == 201, response.json()


def test_a_proxy_stamp_in_the_millisecond_that_holds_the_close_counts_as_after_it(
    client_for, open_question, bob, settings
):
    # nginx's t=<seconds>.<ms> says "somewhere in this millisecond": with the close 0.4 ms into it, the request may
    # have arrived after the close, so it is not stored (the load script's rush found one such stored).
    settings.FA_REQUEST_START_HEADER = "X-Request-Start"
    closes_at = open_question.closes_at.replace(microsecond=123_400)
    Question.objects.filter(pk=open_question.pk).update(closes_at=closes_at)
    with time_machine.travel(closes_at + timedelta(milliseconds=2), tick=False):
        response = _post_stamped(client_for(bob), open_question, f"t={int(closes_at.timestamp())}.123")
    assert response.status_code == 409
    assert not Prediction.objects.filter(author=bob).exists()


def test_a_proxy_stamp_in_the_last_millisecond_before_a_whole_millisecond_close_is_stored(
    client_for, open_question, bob, settings
):
    settings.FA_REQUEST_START_HEADER = "X-Request-Start"
    closes_at = open_question.closes_at.replace(microsecond=0)
    Question.objects.filter(pk=open_question.pk).update(closes_at=closes_at)
    last_millisecond = f"t={int(closes_at.timestamp()) - 1}.999"
    with time_machine.travel(closes_at + timedelta(milliseconds=2), tick=False):
        assert _post_stamped(client_for(bob), open_question, last_millisecond).status_code == 201
        assert _post_stamped(client_for(bob), open_question, f"t={int(closes_at.timestamp())}.000").status_code == 409


@pytest.mark.parametrize(("raw", "start_us", "width_us"), [
    ("t=1700000000.123", 1_700_000_000_123_000, 1_000),
    ("1700000000", 1_700_000_000_000_000, 1_000_000),
    ("t=1700000000.25", 1_700_000_000_250_000, 10_000),
    ("t=1700000000.1234567", 1_700_000_000_123_456, 1),
    ("t=1.7e9", 1_700_000_000_000_000, 1_000_000),
])
def test_a_proxy_stamp_is_read_exactly_with_its_resolution(raw, start_us, width_us):
    start, width = parse_request_start(raw)
    assert (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) == start_us
    assert width == timedelta(microseconds=width_us)


@pytest.mark.parametrize("raw", ["t=", "t=abc", "t=nan", "t=inf", "t=-1", "t=0", "t=1e400",
                                 "t=1700000000123"])  # the last: milliseconds, not seconds: past year 9999
def test_a_stamp_that_is_not_a_time_is_ignored(raw):
    assert parse_request_start(raw) is None


def test_it_refuses_an_on_time_arrival_after_a_close_by_hand(client_for, open_question, expert, bob):
    with time_machine.travel(open_question.closes_at - timedelta(hours=1), tick=False):
        assert client_for(expert).post(f"/api/questions/{open_question.pk}/close/").status_code == 200
        response = _post_prediction(client_for(bob), open_question)
        evidence = client_for(bob).post(f"/api/questions/{open_question.pk}/evidence/", {"body": "late"},
                                        format="json")
    assert (response.status_code, evidence.status_code) == (409, 409)
    assert not Prediction.objects.filter(author=bob).exists()


def test_it_stores_on_time_evidence_in_the_grace_and_fixes_the_closed_head_after_it(
    client_for, open_question, bob, lock_waits_until
):
    with time_machine.travel(open_question.closes_at - timedelta(milliseconds=10), tick=False) as traveller:
        lock_waits_until(traveller, open_question.closes_at + timedelta(seconds=1))
        response = client_for(bob).post(f"/api/questions/{open_question.pk}/evidence/", {"body": "just in time"},
                                        format="json")
    assert response.status_code == 201, response.json()
    # Beat runs once the grace is over: the question closes at closes_at, and its closed head covers the evidence.
    assert services.questions_close_due(now=open_question.closes_at + services.close_grace()) == 1
    question = Question.objects.get(pk=open_question.pk)
    last = LogEntry.objects.filter(question=question).order_by("-seq").first()
    assert (question.status, question.closed_at) == ("closed", open_question.closes_at)
    assert last is not None and last.object_id == Evidence.objects.get(author=bob).pk
    assert question.closed_head == last.chain


def test_beat_leaves_a_question_open_during_the_grace(open_question):
    assert services.questions_close_due(now=open_question.closes_at + timedelta(seconds=1)) == 0
    assert Question.objects.get(pk=open_question.pk).status == "open"
