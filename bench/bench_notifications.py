"""10,000 notifications of one event (a big question's posterior is published) written and mailed.

    /work/main/.venv/bin/python bench/bench_notifications.py [--n 10000]

The database is a fresh SQLite file in a temporary folder unless BENCH_DATABASE_URL names a PostgreSQL database
(created if missing, migrated). Mail goes by SMTP to an aiosmtpd sink this script starts on a free loopback port.

What is timed:
- write: `notifications.notify` for n recipients in one transaction: the preference and address lookups and the
  bulk INSERT (the INSERT statements are counted: one on PostgreSQL; SQLite splits at its variable limit).
- send: `notifications.notifications_send`, the body of the Celery task: claim (conditional UPDATE per batch of
  500), render the text and HTML bodies, mail each over one SMTP connection per batch, until none is left; then the
  sink's count is checked against n.
Seeding the n users and their verified addresses is not timed.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from cpuinfo import describe

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_tmp = tempfile.mkdtemp(prefix="fa-bench-notify-")
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{_tmp}/bench.sqlite3"
os.environ.pop("CELERY_BROKER_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["FA_LOG_LEVEL"] = "WARNING"
# As in production: templates are compiled once and cached (DEBUG re-reads them for every mail).
os.environ.setdefault("DJANGO_DEBUG", "0")


def machine() -> str:
    return describe()


class Sink:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += len(envelope.rcpt_tos)
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    n = parser.parse_args().n

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"

    import django

    django.setup()
    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from forecasts import notifications
    from forecasts.models import EmailAddress, NotificationKind, Question

    if connection.vendor == "postgresql":
        _ensure_postgres_database(settings)
    call_command("migrate", verbosity=0)
    User = get_user_model()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # Seed (untimed): n users with verified addresses, one question.
        stamp = int(time.time())
        users = User.objects.bulk_create([User(username=f"bench{stamp}-{i}") for i in range(n)], batch_size=2000)
        if users[0].pk is None:  # SQLite before RETURNING support: read the ids back
            users = list(User.objects.filter(username__startswith=f"bench{stamp}-"))
        now = timezone.now()
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=f"{u.username}@example.org", verified_at=now) for u in users], batch_size=2000)
        expert = users[0]
        question = Question.objects.create(title="bench: a big question", scale="linear", lower=0, upper=1,
                                           closes_at=now, expert=expert, created_by=expert, status="scored")
        recipients = {u.pk: {"rank": i + 1, "of": n, "kl": 0.1, "skill": 0.01} for i, u in enumerate(users)}

        # The send queued at commit is timed apart, below: here the commit queues nothing.
        queue_send, notifications.queue_send = notifications.queue_send, lambda: True
        t0 = time.perf_counter()
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            written = notifications.notify(NotificationKind.POSTERIOR_PUBLISHED, recipients, question=question)
        t_write = time.perf_counter() - t0
        notifications.queue_send = queue_send
        inserts = sum(q["sql"].lstrip().upper().startswith("INSERT") for q in queries.captured_queries)
        received_before = sink.count
        t0 = time.perf_counter()
        mailed = notifications.notifications_send()
        t_send = time.perf_counter() - t0
        deadline = time.monotonic() + 10
        while sink.count - received_before < mailed and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        controller.stop()

    print(f"machine: {machine()}")
    print(f"database: {connection.vendor}; mail: SMTP to aiosmtpd on 127.0.0.1:{port}")
    print(f"write {written} notifications of one event: {t_write:.3f} s ({written / t_write:,.0f}/s), "
          f"{inserts} INSERT statement(s)")
    print(f"send {mailed} mails (claim, render text+HTML, SMTP): {t_send:.3f} s ({mailed / t_send:,.0f}/s); "
          f"sink received {sink.count - received_before}")
    print(f"write + send: {written / (t_write + t_send):,.0f} notifications/s (target >= 500/s queued)")


def _ensure_postgres_database(settings) -> None:
    import psycopg2

    db = settings.DATABASES["default"]
    conn = psycopg2.connect(dbname="postgres", user=db["USER"] or None, password=db["PASSWORD"] or None,
                            host=db["HOST"] or None, port=db["PORT"] or None)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{db["NAME"]}"')
    conn.close()


if __name__ == "__main__":
    main()
