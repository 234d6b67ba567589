"""Notifications (docs/design.md, Notifications): rows written with each event, for the right people, once; mailed at
most once by the send task, however often it is delivered; read and marked read through the API; preferences."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from forecasts import demo, jobs, notifications, prizes, services
from forecasts.models import EmailAddress, Job, Notification, NotificationKind, NotificationPreference
from forecasts.tasks import send_digests, send_notifications
from tests.builders import CLOSE, NO_CHANGE, PRIZES, QUESTION, WRONG_WAY, build_scored_question

K = NotificationKind


def verify(*users) -> None:
    for user in users:
        EmailAddress.objects.create(user=user, email=f"{user.username}@example.org", verified_at=timezone.now())


def rows(**filters) -> Counter:
    """(username, kind) -> how many rows."""
    return Counter(Notification.objects.filter(**filters).values_list("user__username", "kind"))


def mails(outbox) -> Counter:
    """(address, subject) -> how many mails."""
    return Counter((m.to[0], m.subject) for m in outbox)


@pytest.fixture(name="competition")
def competition_fixture(django_capture_on_commit_callbacks, expert, alice, bob, carol, organizer):
    """alice predicts close and comments (weight 3); bob predicts no change and comments (weight 0); carol only
    predicts; then prizes are drafted and awarded. Everyone but carol has a verified email."""
    verify(expert, alice, bob, organizer)
    question = build_scored_question(
        django_capture_on_commit_callbacks, expert=expert,
        predictions={alice: CLOSE, bob: NO_CHANGE, carol: WRONG_WAY}, evidence={alice: 3.0, bob: 0.0},
    )
    with django_capture_on_commit_callbacks(execute=True):
        prizes.prizes_draft(question=question, user=organizer, **PRIZES)
        prizes.prizes_award(question=question, user=organizer)
    return question


def test_it_writes_each_event_for_the_right_people_once(competition, mailoutbox):
    assert rows() == {
        ("alice", K.QUESTION_CLOSED): 1, ("bob", K.QUESTION_CLOSED): 1, ("carol", K.QUESTION_CLOSED): 1,
        ("expert", K.POSTERIOR_DUE): 1,
        ("alice", K.EVIDENCE_WEIGHT): 1,  # bob's weight 0 moved nobody
        ("alice", K.POSTERIOR_PUBLISHED): 1, ("bob", K.POSTERIOR_PUBLISHED): 1, ("carol", K.POSTERIOR_PUBLISHED): 1,
        ("organizer", K.PRIZE_DRAFT): 1,
        ("alice", K.PRIZE_WON): 1,  # winner takes all, and the whole evidence pool by weight 3:0
    }
    published = Notification.objects.get(user__username="alice", kind=K.POSTERIOR_PUBLISHED)
    assert published.data["rank"] == 1 and published.data["of"] == 3
    # carol has no verified address: her rows show on the site and are never mailed.
    assert set(Notification.objects.filter(user__username="carol").values_list("delivery", flat=True)) == {"off"}
    # Every other row was mailed once, to its owner.
    expected = Counter((f"{u}@example.org", f"[Forecasts] {notifications.NOTIFICATION_LABELS[k]}")
                       for (u, k), n in rows().items() if u != "carol" for _ in range(n))
    assert mails(mailoutbox) == expected
    assert all(m.alternatives and "unsubscribe" in m.body for m in mailoutbox)


def test_it_mails_each_notification_once_when_the_task_is_delivered_twice(
        django_capture_on_commit_callbacks, expert, alice, bob, mailoutbox):
    verify(alice, bob)
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=1), **QUESTION)
    services.prior_set(question=question, user=expert, spec=demo.COMPUTE_PRIOR)
    services.question_open(question=question, user=expert)
    for author in (alice, bob):
        services.prediction_submit(question=question, author=author, spec=CLOSE)
    with django_capture_on_commit_callbacks(execute=False):  # the send task is not run at commit
        services.question_close(question=question, user=expert)
    assert mailoutbox == []
    send_notifications.apply()
    send_notifications.apply()
    assert notifications.notifications_send() == 0
    assert mails(mailoutbox) == {("alice@example.org", "[Forecasts] " + notifications.NOTIFICATION_LABELS[
        K.QUESTION_CLOSED]): 1, ("bob@example.org", "[Forecasts] " + notifications.NOTIFICATION_LABELS[
            K.QUESTION_CLOSED]): 1}


def test_it_notifies_when_a_question_closes_at_closes_at(django_capture_on_commit_callbacks, expert, alice):
    closes = timezone.now() + timedelta(hours=1)
    question = services.question_create(created_by=expert, closes_at=closes, **QUESTION)
    services.prior_set(question=question, user=expert, spec=demo.COMPUTE_PRIOR)
    services.question_open(question=question, user=expert)
    services.evidence_post(question=question, author=alice, body="a comment, no prediction")
    # Beat closes once the grace for on-time arrivals has passed (FA_CLOSE_GRACE_SECONDS), and only once.
    grace = timedelta(seconds=settings.FA_CLOSE_GRACE_SECONDS)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.questions_close_due(now=closes + grace + timedelta(seconds=1)) == 1
        assert services.questions_close_due(now=closes + grace + timedelta(seconds=2)) == 0
    assert rows() == {("alice", K.QUESTION_CLOSED): 1, ("expert", K.POSTERIOR_DUE): 1}


def test_it_tells_the_author_of_evidence_of_a_reply_but_not_of_their_own(expert, alice, bob):
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=1), **QUESTION)
    services.prior_set(question=question, user=expert, spec=demo.COMPUTE_PRIOR)
    services.question_open(question=question, user=expert)
    parent = services.evidence_post(question=question, author=alice, body="claim")
    services.evidence_post(question=question, author=alice, body="my own follow-up", parent_id=parent.pk)
    reply = services.evidence_post(question=question, author=bob, body="objection", parent_id=parent.pk)
    assert rows() == {("alice", K.EVIDENCE_REPLY): 1}
    assert Notification.objects.get().data == {"evidence": reply.pk, "parent": parent.pk}


def test_it_tells_organizers_of_a_failed_job_once(organizer, staff, expert, mailoutbox):
    verify(organizer)
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=1), **QUESTION)
    job = Job.objects.create(question=question, kind=Job.Kind.SCORE, state=Job.State.RUNNING)
    jobs.job_fail(job.pk, error="ZeroDivisionError: boom")
    jobs.job_fail(job.pk, error="ZeroDivisionError: boom again")
    assert rows() == {("organizer", K.JOB_FAILED): 1, ("staff", K.JOB_FAILED): 1}
    assert Job.objects.get(pk=job.pk).error == "ZeroDivisionError: boom again"


def test_it_reminds_the_expert_once_after_the_set_days(django_capture_on_commit_callbacks, settings, expert, alice):
    settings.FA_POSTERIOR_REMINDER_DAYS = 3
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=1), **QUESTION)
    services.prior_set(question=question, user=expert, spec=demo.COMPUTE_PRIOR)
    services.question_open(question=question, user=expert)
    services.question_close(question=question, user=expert)
    later = timezone.now() + timedelta(days=2)
    assert notifications.posterior_reminders_send(now=later) == 0
    later = timezone.now() + timedelta(days=3, minutes=1)
    assert notifications.posterior_reminders_send(now=later) == 1
    assert notifications.posterior_reminders_send(now=later) == 0
    assert rows(kind=K.POSTERIOR_REMINDER) == {("expert", K.POSTERIOR_REMINDER): 1}


# --- preferences and unsubscribe -----------------------------------------------------------------------------------


def _close_with(django_capture_on_commit_callbacks, expert, *commenters):
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=1), **QUESTION)
    services.prior_set(question=question, user=expert, spec=demo.COMPUTE_PRIOR)
    services.question_open(question=question, user=expert)
    for author in commenters:
        services.evidence_post(question=question, author=author, body="argument")
    with django_capture_on_commit_callbacks(execute=True):
        services.question_close(question=question, user=expert)
    return question


def test_it_mails_nothing_for_a_kind_turned_off_and_digests_another(
        django_capture_on_commit_callbacks, expert, alice, bob, mailoutbox):
    verify(alice, bob)
    notifications.preferences_set(user=alice, modes={K.QUESTION_CLOSED: "off"})
    notifications.preferences_set(user=bob, modes={K.QUESTION_CLOSED: "digest"})
    _close_with(django_capture_on_commit_callbacks, expert, alice, bob)
    assert mailoutbox == []
    assert rows(kind=K.QUESTION_CLOSED) == {("alice", K.QUESTION_CLOSED): 1, ("bob", K.QUESTION_CLOSED): 1}
    send_digests.apply()
    send_digests.apply()  # beat delivered twice: the rows were claimed by the first
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["bob@example.org"], "[Forecasts] Your daily digest: 1 notifications")]
    assert "has closed" in mailoutbox[0].body


def test_it_unsubscribes_with_one_click_without_signing_in(
        django_capture_on_commit_callbacks, client, expert, alice, mailoutbox):
    verify(alice)
    _close_with(django_capture_on_commit_callbacks, expert, alice)
    link = next(line for line in mailoutbox[0].body.splitlines() if "/notifications/unsubscribe/" in line)
    path = link[link.index("/notifications/"):].strip()
    response = client.get(path)  # no session
    assert response.status_code == 200
    assert NotificationPreference.objects.get(user=alice, kind=K.QUESTION_CLOSED).mode == "off"
    assert mailoutbox[0].extra_headers["List-Unsubscribe"].endswith(path + ">")


def test_it_refuses_a_tampered_unsubscribe_token(client, alice):
    token = notifications.unsubscribe_token(alice.pk, K.QUESTION_CLOSED)
    payload, signature = token.rsplit(":", 1)
    forged = notifications.unsubscribe_token(alice.pk, K.PRIZE_WON).rsplit(":", 1)[0] + ":" + signature
    for bad in (payload + ":" + signature[::-1], forged, "nonsense"):
        assert client.get(f"/notifications/unsubscribe/{bad}/").status_code == 400
    assert not NotificationPreference.objects.exists()


# --- the API -----------------------------------------------------------------------------------------------------


def test_it_lists_the_callers_notifications_newest_first_and_marks_them_read(client_for, alice, bob, expert):
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=1), **QUESTION)
    notifications.notify(K.QUESTION_CLOSED, [alice.pk, bob.pk], question=question)
    notifications.notify(K.PRIZE_WON, {alice.pk: {"amount": "5.00"}}, question=question)
    api = client_for(alice)
    body = api.get("/api/notifications/").json()
    assert body["count"] == 2
    assert [r["kind"] for r in body["results"]] == [K.PRIZE_WON, K.QUESTION_CLOSED]
    assert set(body["results"][0]) == {"id", "kind", "question", "created_at", "read"}
    newest = body["results"][0]["id"]
    bobs = Notification.objects.get(user=bob).pk
    response = api.post("/api/notifications/read/", {"ids": [newest, bobs]}, format="json")
    assert response.status_code == 200 and response.json() == {"marked": 1}  # bob's is not alice's to mark
    assert not Notification.objects.get(user=bob).read
    assert api.post("/api/notifications/read/", {"all": True}, format="json").json() == {"marked": 1}
    assert [r["read"] for r in api.get("/api/notifications/").json()["results"]] == [True, True]
    assert api.post("/api/notifications/read/", {}, format="json").status_code == 400
    assert client_for().get("/api/notifications/").status_code in (401, 403)


def test_it_shows_the_unread_count_on_the_pages(client, alice, expert):
    notifications.notify(K.POSTERIOR_DUE, [alice.pk])
    client.force_login(alice)
    page = client.get("/notifications/").content.decode()
    assert 'data-testid="unread-count">1<' in page and "time to publish your posterior" in page
    client.post("/notifications/read/")
    assert 'data-testid="unread-count">0<' in client.get("/").content.decode()
