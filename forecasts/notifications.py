"""Notifications: a row per person and event, written in the transaction of the event, mailed after it commits.

- `notify` writes one event's rows with one bulk INSERT, deciding each row's delivery from the person's preference
  for the kind (immediately, daily digest, off) and whether they have a verified email; it queues the send task
  (by name, like jobs.job_send) once the transaction commits, so the task never reads rows that are not there yet.
- `notifications_send` mails the immediate rows. Each row is claimed by a conditional UPDATE (sent_at IS NULL ->
  now) before its mail goes out, so a task delivered twice, or two workers, mail each row at most once.
- `digests_send` (beat, daily) and `posterior_reminders_send` (beat) are claimed the same way, so each is sent once.
- Email verification and one-click unsubscribe links are signed tokens (django.core.signing).

Mail goes through Django's email framework (the console backend unless configured: config/settings.py).
"""

from __future__ import annotations

import json
import logging
import smtplib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .models import (
    NOTIFICATION_LABELS,
    EmailAddress,
    Evidence,
    Notification,
    NotificationKind,
    NotificationPreference,
    Prediction,
    Question,
    Score,
    Status,
)
from .permissions import ORGANIZERS_GROUP

log = logging.getLogger(__name__)
# What a mail server that is down, refuses or times out raises through Django's SMTP backend.
MAIL_ERRORS = (smtplib.SMTPException, OSError)
User = get_user_model()

SEND_TASK = "amplification.tasks.send_notifications"
UNSUBSCRIBE_SALT = "forecasts.notifications.unsubscribe"
VERIFY_SALT = "forecasts.email.verify"
ALL_KINDS = "*"  # an unsubscribe token for every kind (the digest's link)
SEND_BATCH = 500  # rows claimed per UPDATE; one SMTP connection per batch

Delivery = Notification.Delivery
Mode = NotificationPreference.Mode


# --- writing ---------------------------------------------------------------------------------------------------------


def notify(kind: str, recipients: Mapping[int, dict] | Iterable[int], *, question: Question | None = None) -> int:
    """Write one event's notifications (one INSERT) and queue their mail for after the commit.

    `recipients`: user ids, or user id -> the row's data (a score, a weight, an amount). Call it inside the
    transaction that makes the event happen, so the rows exist exactly when the event does.
    """
    data = dict(recipients) if isinstance(recipients, Mapping) else {key: {} for key in recipients}
    if not data:
        return 0
    ids = list(data)
    now = timezone.now()
    if connection.vendor == "postgresql":
        # The INSERT decides each row's delivery itself (a join on preferences and verified addresses).
        _insert_postgres(kind, question, now, "SELECT u, d::jsonb FROM unnest(%s::bigint[], %s::text[]) AS t(u, d)",
                         [ids, [json.dumps(data[user_id] or {}, separators=(",", ":")) for user_id in ids]])
        transaction.on_commit(queue_send)  # the send finds nothing to mail when every row is off or a digest
        return len(ids)
    modes = dict(NotificationPreference.objects.filter(kind=kind, user_id__in=ids).values_list("user_id", "mode"))
    verified = set(EmailAddress.objects.filter(user_id__in=ids, verified_at__isnull=False)
                   .values_list("user_id", flat=True))
    deliveries = [modes.get(user_id, Mode.IMMEDIATE) if user_id in verified else Delivery.OFF for user_id in ids]
    Notification.objects.bulk_create([
        Notification(user_id=user_id, kind=kind, question=question, created_at=now, data=data[user_id] or {},
                     delivery=delivery)
        for user_id, delivery in zip(ids, deliveries, strict=True)
    ])
    if Delivery.IMMEDIATE in deliveries:
        transaction.on_commit(queue_send)
    return len(ids)


def notify_scores(question: Question, n: int) -> None:
    """The posterior is published and scored: each predictor hears their score and rank (read from the Score rows
    where they are); a commenter who did not predict, that the posterior is out. On PostgreSQL both are one
    INSERT .. SELECT."""
    kind = NotificationKind.POSTERIOR_PUBLISHED
    scores = Score.objects.filter(question=question)
    if connection.vendor == "postgresql":
        score, prediction, evidence = (model._meta.db_table for model in (Score, Prediction, Evidence))
        _insert_postgres(
            kind, question, timezone.now(),
            f"SELECT author_id, jsonb_build_object('rank', rank, 'of', %s, 'kl', kl, 'skill', skill)"
            f" FROM {score} WHERE question_id = %s"
            f" UNION ALL SELECT p.u, '{{}}'::jsonb FROM (SELECT author_id FROM {prediction} WHERE question_id = %s"
            f"  UNION SELECT author_id FROM {evidence} WHERE question_id = %s) AS p(u)"
            f" WHERE p.u <> %s AND NOT EXISTS (SELECT 1 FROM {score} s WHERE s.question_id = %s AND s.author_id = p.u)",
            [n, question.pk, question.pk, question.pk, question.expert_id, question.pk],
        )
        transaction.on_commit(queue_send)
        return
    rows = {author: {"rank": rank, "of": n, "kl": kl, "skill": skill}
            for author, rank, kl, skill in scores.values_list("author_id", "rank", "kl", "skill")}
    notify(kind, rows, question=question)
    others = participant_ids(question) - set(rows)
    if others:
        notify(kind, {key: {} for key in others}, question=question)


def _insert_postgres(kind: str, question: Question | None, now: datetime, recipients_sql: str, params: list) -> None:
    """One INSERT for a whole event. `recipients_sql` selects (user id, data as jsonb); each row's delivery is decided
    in the same statement from the person's preference for the kind and whether their email is verified.

    A big question's posterior notifies every predictor: building 100,000 model instances (and an INSERT with 900,000
    placeholders) took the ORM ~40 s of a scoring job that otherwise takes a few seconds (100,000 predictions)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Notification._meta.db_table}"
            " (user_id, kind, question_id, created_at, read, data, sent_at, claim, delivery)"
            " SELECT r.u, %s, %s, %s, false, r.d, NULL, '',"
            "  CASE WHEN e.user_id IS NULL THEN %s ELSE COALESCE(p.mode, %s) END"
            f" FROM ({recipients_sql}) AS r(u, d)"
            f" LEFT JOIN {EmailAddress._meta.db_table} e ON e.user_id = r.u AND e.verified_at IS NOT NULL"
            f" LEFT JOIN {NotificationPreference._meta.db_table} p ON p.user_id = r.u AND p.kind = %s",
            [kind, question.pk if question is not None else None, now, str(Delivery.OFF), str(Mode.IMMEDIATE),
             *params, kind],
        )


def queue_send() -> bool:
    """Send the send task to a worker (eagerly in-process without a broker). A broker that cannot be reached loses
    nothing: the rows stay unsent, and beat's periodic send picks them up."""
    task = current_app.tasks[SEND_TASK]
    try:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            task.apply(throw=False)
        else:
            task.apply_async(retry=False)
    except Exception as exc:
        log.warning("could not queue the notification mail (%s); beat sends it later", exc)
        return False
    return True


def organizer_ids() -> list[int]:
    return list(User.objects.filter(Q(is_staff=True) | Q(groups__name=ORGANIZERS_GROUP), is_active=True)
                .values_list("pk", flat=True).distinct())


def participant_ids(question: Question) -> set[int]:
    """Everyone who predicted on or commented on the question, except its expert."""
    predicted = Prediction.objects.filter(question=question).values_list("author_id", flat=True)
    commented = Evidence.objects.filter(question=question).values_list("author_id", flat=True)
    return (set(predicted) | set(commented)) - {question.expert_id}


def notify_question_closed(question: Question) -> None:
    """At close (by hand or at closes_at): the crowd hears it closed; the expert, that the posterior is theirs."""
    notify(NotificationKind.QUESTION_CLOSED, participant_ids(question), question=question)
    notify(NotificationKind.POSTERIOR_DUE, [question.expert_id], question=question)


def notify_organizers(kind: str, data: dict, *, question: Question | None = None) -> None:
    notify(kind, dict.fromkeys(organizer_ids(), data), question=question)


def posterior_reminders_send(now: datetime | None = None) -> int:
    """Remind each expert whose question closed FA_POSTERIOR_REMINDER_DAYS ago and still has no posterior; once per
    question (the conditional update on posterior_reminded_at decides, whoever runs it first)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.FA_POSTERIOR_REMINDER_DAYS)
    due = Question.objects.filter(status=Status.CLOSED, closed_at__lte=cutoff, posterior_reminded_at__isnull=True)
    reminded = 0
    for question in due.only("id", "expert_id", "closed_at"):
        with transaction.atomic():
            if Question.objects.filter(pk=question.pk, status=Status.CLOSED, posterior_reminded_at__isnull=True
                                       ).update(posterior_reminded_at=now):
                days = (now - question.closed_at).days if question.closed_at else settings.FA_POSTERIOR_REMINDER_DAYS
                notify(NotificationKind.POSTERIOR_REMINDER, {question.expert_id: {"days": days}}, question=question)
                reminded += 1
    return reminded


# --- reading and marking -----------------------------------------------------------------------------------------


def notifications_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read: the given ids (others' ids are ignored), or all of them."""
    rows = Notification.objects.filter(user=user, read=False)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read=True)


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read=False).count()


def preferences_of(user) -> dict[str, str]:
    """Every kind -> the user's mode for it (immediately when they never chose)."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "mode"))
    return {kind: chosen.get(kind, Mode.IMMEDIATE) for kind in NotificationKind.values}


def preferences_set(*, user, modes: Mapping[str, str]) -> None:
    for kind, mode in modes.items():
        if kind not in NotificationKind.values or mode not in Mode.values:
            raise ValueError(f"no kind {kind!r} or mode {mode!r}")
        NotificationPreference.objects.update_or_create(user=user, kind=kind, defaults={"mode": mode})


# --- unsubscribe -------------------------------------------------------------------------------------------------


def unsubscribe_token(user_id: int, kind: str) -> str:
    # No max age: the link in an old mail must still work. The salt keeps these from being mistaken for other tokens.
    return signing.dumps({"u": user_id, "k": kind}, salt=UNSUBSCRIBE_SALT, compress=False)


def unsubscribe_url(user_id: int, kind: str) -> str:
    return _absolute(reverse("forecasts:unsubscribe", args=[unsubscribe_token(user_id, kind)]))


def unsubscribe(token: str) -> tuple[Any, str]:
    """Turn off the kind the token names (every kind for ALL_KINDS). Raises signing.BadSignature if tampered."""
    payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    user = User.objects.filter(pk=payload.get("u")).first()
    kind = payload.get("k")
    if user is None or (kind != ALL_KINDS and kind not in NotificationKind.values):
        raise signing.BadSignature("unknown user or kind")
    kinds = NotificationKind.values if kind == ALL_KINDS else [kind]
    with transaction.atomic():
        preferences_set(user=user, modes=dict.fromkeys(kinds, Mode.OFF))
        # Mail not sent yet for those kinds is not sent either.
        Notification.objects.filter(user=user, kind__in=kinds, sent_at__isnull=True).update(delivery=Delivery.OFF)
    return user, kind


# --- email verification ------------------------------------------------------------------------------------------


def verification_token(address: EmailAddress) -> str:
    return signing.dumps({"u": address.user_id, "e": address.email.lower()}, salt=VERIFY_SALT, compress=False)


def verification_send(address_id: int) -> bool:
    """Mail the address its signed link; False when the mail server could not take it. The account is made by
    then (this runs once the sign-up commits), so a failure is logged rather than raised: the person asks for the
    link again from their settings page, which says the address is unverified."""
    address = EmailAddress.objects.select_related("user").get(pk=address_id)
    link = _absolute(reverse("forecasts:email-verify", args=[verification_token(address)]))
    context = {"user": address.user, "link": link, "hours": settings.FA_EMAIL_VERIFY_MAX_AGE // 3600}
    try:
        _message(address.email, "Confirm your email address", "email/verify", context).send()
    except MAIL_ERRORS as exc:
        log.warning("could not mail the verification link for address #%s: %s", address_id, exc)
        return False
    return True


# --- mailing -------------------------------------------------------------------------------------------------------


def _absolute(path: str) -> str:
    return settings.FA_SITE_URL.rstrip("/") + path


def _message(to: str, subject: str, template: str, context: dict, *, unsubscribe: str | None = None,
             connection=None) -> EmailMultiAlternatives:
    context = {**context, "site_url": settings.FA_SITE_URL, "unsubscribe": unsubscribe}
    headers = {"List-Unsubscribe": f"<{unsubscribe}>"} if unsubscribe else None
    message = EmailMultiAlternatives(subject=subject, body=render_to_string(f"{template}.txt", context), to=[to],
                                     headers=headers, connection=connection)
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message


def summary(notification: Notification) -> str:
    """One sentence saying what happened, for the mail, the digest and the notifications page."""
    d = notification.data or {}
    title = f"“{notification.question.title}”" if notification.question_id and notification.question else "a question"
    match notification.kind:
        case NotificationKind.QUESTION_CLOSED:
            return f"{title} has closed; the expert now writes the posterior."
        case NotificationKind.POSTERIOR_DUE:
            return f"Your question {title} has closed: it is time to publish your posterior."
        case NotificationKind.POSTERIOR_REMINDER:
            return f"Your question {title} closed {d.get('days', '')} days ago and its posterior is still unpublished."
        case NotificationKind.POSTERIOR_PUBLISHED:
            if "rank" in d:
                return (f"The posterior of {title} is published: your prediction ranks {d['rank']} of {d['of']} "
                        f"(KL {d['kl']:.4f} nats, skill {d['skill']:+.4f}).")
            return f"The posterior of {title} is published."
        case NotificationKind.EVIDENCE_REPLY:
            return f"Someone replied to your evidence #{d.get('parent')} on {title}."
        case NotificationKind.EVIDENCE_WEIGHT:
            return f"Your evidence #{d.get('evidence')} moved the expert of {title}: weight {d.get('weight')}."
        case NotificationKind.PRIZE_WON:
            pending = " Verify your email address to be paid." if not d.get("verified") else ""
            return f"You won {d.get('amount')} {d.get('currency', '')} on {title}.{pending}"
        case NotificationKind.PRIZE_DRAFT:
            return f"A prize draft (#{d.get('allocation')}) for {title} is ready to review."
        case NotificationKind.JOB_FAILED:
            return f"The {d.get('kind')} job #{d.get('job')} on {title} failed: {d.get('error', '')}"
    return NOTIFICATION_LABELS[notification.kind]


def _link(notification: Notification) -> str:
    if notification.question_id:
        return _absolute(reverse("forecasts:question-detail", args=[notification.question_id]))
    return _absolute(reverse("forecasts:notifications"))


def _claim(rows, now: datetime) -> str:
    """Claim rows for this run: one conditional UPDATE; returns the claim token naming what this run won."""
    token = uuid.uuid4().hex
    rows.filter(sent_at__isnull=True).update(sent_at=now, claim=token)
    return token


def _release(ids: list[int], token: str) -> None:
    """Give claimed but unsent rows back (the SMTP server failed), so a retry sends them."""
    if ids:
        Notification.objects.filter(pk__in=ids, claim=token).update(sent_at=None, claim="")


def notifications_send(*, batch: int = SEND_BATCH) -> int:
    """Mail every unsent immediate notification, each at most once; returns the number mailed by this run."""
    mailed = 0
    while True:
        ids = list(Notification.objects.filter(sent_at__isnull=True, delivery=Delivery.IMMEDIATE)
                   .order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return mailed
        token = _claim(Notification.objects.filter(pk__in=ids), timezone.now())
        rows = list(Notification.objects.filter(pk__in=ids, claim=token)
                    .select_related("question", "user__email_address").order_by("pk"))
        mailed += _send_each(rows, token)


def _send_each(rows: list[Notification], token: str) -> int:
    connection = get_connection()
    done = 0
    try:
        connection.open()
        for row in rows:
            _message(
                row.user.email_address.email, f"[Forecasts] {NOTIFICATION_LABELS[row.kind]}",
                "email/notification", {"user": row.user, "summary": summary(row), "link": _link(row)},
                unsubscribe=unsubscribe_url(row.user_id, row.kind),
                connection=connection,
            ).send()
            done += 1
    except Exception:
        _release([row.pk for row in rows[done:]], token)
        raise
    finally:
        connection.close()
    return done


def digests_send(now: datetime | None = None) -> int:
    """The daily digest: one mail per person listing their unsent digest notifications; returns mails sent.

    The rows are claimed before anything is mailed, so a second run the same day (or a duplicate delivery) finds
    nothing to send. A person who turned a kind off since the row was written gets nothing for it.
    """
    now = now or timezone.now()
    token = _claim(Notification.objects.filter(delivery=Delivery.DIGEST, created_at__lte=now), now)
    rows = list(Notification.objects.filter(claim=token, delivery=Delivery.DIGEST)
                .select_related("question", "user__email_address").order_by("user_id", "created_at", "pk"))
    off = set(NotificationPreference.objects.filter(user_id__in={r.user_id for r in rows}, mode=Mode.OFF)
              .values_list("user_id", "kind"))
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for row in rows:
        if (row.user_id, row.kind) not in off:
            by_user[row.user_id].append(row)
    connection = get_connection()
    sent = 0
    try:
        for user_rows in by_user.values():
            user = user_rows[0].user
            items = [{"summary": summary(r), "link": _link(r)} for r in user_rows]
            _message(user.email_address.email, f"[Forecasts] Your daily digest: {len(items)} notifications",
                     "email/digest", {"user": user, "items": items},
                     unsubscribe=unsubscribe_url(user.pk, ALL_KINDS),
                     connection=connection).send()
            sent += 1
    except Exception:
        unsent = [r.pk for rows_ in list(by_user.values())[sent:] for r in rows_]
        _release(unsent, token)
        raise
    return sent
