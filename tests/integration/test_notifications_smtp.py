"""Notification mail through a real worker to a real SMTP server (aiosmtpd on a free loopback port): one whole
competition through the services, each person gets the right mails exactly once, also when every send task is
delivered twice."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from celery import current_app
from django.utils import timezone

from forecasts import demo, notifications, prizes, services
from forecasts.models import EmailAddress, Job, Notification, NotificationKind, Status
from tests.builders import CLOSE, NO_CHANGE, PRIZES, QUESTION, WRONG_WAY


def _settle(expected_mails: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = Job.objects.exclude(state__in=(Job.State.DONE, Job.State.FAILED)).exists()
        unsent = Notification.objects.filter(delivery="immediate", sent_at__isnull=True).exists()
        if not busy and not unsent:
            return
        time.sleep(0.2)
    pytest.fail(f"jobs or mail still pending after {timeout}s: {list(Job.objects.values_list('kind', 'state'))}")


@pytest.mark.parametrize("deliveries", [1, 2], ids=["once", "every-send-delivered-twice"])
def test_it_mails_a_whole_competition_once_per_person_and_event(celery_worker_factory, smtp_sink, deliveries,
                                                                  make_user):
    # Short task limits, below the conftest's 15 s visibility timeout (config/settings.py refuses one at or above it).
    celery_worker_factory(extra_env={"EMAIL_URL": smtp_sink.url, "FA_TASK_TIME_LIMIT": "4",
                                     "FA_TASK_SOFT_TIME_LIMIT": "3"})
    expert, alice, bob, carol = (make_user(name) for name in ("expert", "alice", "bob", "carol"))
    organizer = make_user("organizer", organizer=True)
    for user in (expert, alice, bob, organizer):  # carol has no verified address: nothing is mailed to her
        EmailAddress.objects.create(user=user, email=f"{user.username}@example.org", verified_at=timezone.now())
    send = current_app.tasks[notifications.SEND_TASK]

    def step(call):
        call()
        for _ in range(deliveries - 1):
            send.apply_async()  # the duplicate delivery of the send task queued at commit

    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=1), **QUESTION)
    services.prior_set(question=question, user=expert, spec=demo.COMPUTE_PRIOR)
    services.question_open(question=question, user=expert)
    posted = services.evidence_post(question=question, author=alice, body="alice's argument")
    step(lambda: services.evidence_post(question=question, author=bob, body="a reply", parent_id=posted.pk))
    for author, spec in ((alice, CLOSE), (bob, NO_CHANGE), (carol, WRONG_WAY)):
        services.prediction_submit(question=question, author=author, spec=spec)
    step(lambda: services.question_close(question=question, user=expert))
    step(lambda: services.posterior_publish(question=question, user=expert, spec=demo.COMPUTE_POSTERIOR,
                                            influence=[{"evidence": posted.pk, "weight": 2.0}]))
    deadline = time.monotonic() + 90
    while Job.objects.filter(question=question, kind=Job.Kind.SCORE, state=Job.State.DONE).count() == 0:
        assert time.monotonic() < deadline, list(Job.objects.values_list("kind", "state", "error"))
        time.sleep(0.2)
    for _ in range(deliveries - 1):
        send.apply_async()  # the worker queued the published-posterior mail itself; deliver it again too
    question.refresh_from_db()
    assert question.status == Status.SCORED
    step(lambda: prizes.prizes_draft(question=question, user=organizer, **PRIZES))
    step(lambda: prizes.prizes_award(question=question, user=organizer))
    _settle(expected_mails=0)
    time.sleep(1.0)  # a duplicate delivery still running would mail now, if it could

    label = notifications.NOTIFICATION_LABELS
    expected = Counter({
        ("alice@example.org", label[NotificationKind.EVIDENCE_REPLY]): 1,
        ("alice@example.org", label[NotificationKind.QUESTION_CLOSED]): 1,
        ("bob@example.org", label[NotificationKind.QUESTION_CLOSED]): 1,
        ("expert@example.org", label[NotificationKind.POSTERIOR_DUE]): 1,
        ("alice@example.org", label[NotificationKind.EVIDENCE_WEIGHT]): 1,
        ("alice@example.org", label[NotificationKind.POSTERIOR_PUBLISHED]): 1,
        ("bob@example.org", label[NotificationKind.POSTERIOR_PUBLISHED]): 1,
        ("organizer@example.org", label[NotificationKind.PRIZE_DRAFT]): 1,
        ("alice@example.org", label[NotificationKind.PRIZE_WON]): 1,
    })
    received = Counter((to, subject.removeprefix("[Forecasts] ")) for to, subject in smtp_sink.received)
    assert received == expected
    # carol's rows exist (the bell shows them) and were never mailed.
    assert set(Notification.objects.filter(user=carol).values_list("kind", "delivery")) == {
        (NotificationKind.QUESTION_CLOSED, "off"), (NotificationKind.POSTERIOR_PUBLISHED, "off")}
