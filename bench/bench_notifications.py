"""10,000 notifications of one event (a big question's posterior is published) written and mailed to an SMTP sink.

    /work/main/.venv/bin/python bench/bench_notifications.py --worker [--n 10000]   # through a real Celery worker
    /work/main/.venv/bin/python bench/bench_notifications.py [--n 10000] [--profile] # the send task's body in-process

Mail goes by SMTP to an aiosmtpd sink (tests/smtp_sink.py) that this script starts on a free loopback port.
Seeding the n users and their verified addresses is never timed.

--worker (the acceptance figure): PostgreSQL and Redis on 127.0.0.1. The script creates the database fa_bench_notify
(BENCH_DATABASE_URL to change it; dropped first if a crashed run left it, and dropped at the end), migrates it, and
starts one `celery -A config worker` subprocess (prefork, one child, as tests/integration/conftest.py does) on Redis
db 13 (BENCH_BROKER_URL), consuming a queue of its own so that no other worker on that Redis takes its task. Timed
from the start of the write until the sink has received all n mails:
- write: `notifications.notify` for n recipients in one transaction, through its commit, whose on_commit queues the
  send task to the broker (the real code path); the INSERT statements are counted (one per event on PostgreSQL);
- the worker's `amplification.tasks.send_notifications`: claim (a conditional UPDATE per batch), render, SMTP.
The rate is n / (write + send). After the worker has stopped, the sink must hold exactly n mails and every row be
marked sent.

Without --worker: a fresh SQLite file in a temporary folder unless BENCH_DATABASE_URL names a PostgreSQL database
(created if missing, migrated, kept). `notify` is timed (its commit queues nothing here), then
`notifications.notifications_send`, the body of the task, is called in this process. --profile runs that body under
cProfile and prints the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from cpuinfo import describe

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORKER_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fa_bench_notify"
WORKER_BROKER_URL = "redis://127.0.0.1:6379/13"
QUEUE = "bench-notifications"  # the worker consumes only this; the send task is routed to it


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--worker", action="store_true", help="through a real Celery worker on PostgreSQL and Redis")
    parser.add_argument("--profile", action="store_true", help="in-process only: cProfile the send")
    args = parser.parse_args()
    if args.worker and args.profile:
        parser.error("--profile profiles the in-process send; run it without --worker")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["FA_LOG_LEVEL"] = "WARNING"
    # As in production: templates are compiled once and cached (DEBUG re-reads them for every mail).
    os.environ["DJANGO_DEBUG"] = "0"
    if args.worker:
        os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or WORKER_DATABASE_URL
        os.environ["CELERY_BROKER_URL"] = os.environ.get("BENCH_BROKER_URL") or WORKER_BROKER_URL
    else:
        os.environ["DATABASE_URL"] = (os.environ.get("BENCH_DATABASE_URL")
                                      or f"sqlite:///{tempfile.mkdtemp(prefix='fa-bench-notify-')}/bench.sqlite3")
        os.environ.pop("CELERY_BROKER_URL", None)

    from tests.smtp_sink import SmtpSink

    with SmtpSink() as sink:
        os.environ["EMAIL_URL"] = sink.url
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection

        if args.worker:
            if connection.vendor != "postgresql":
                sys.exit(f"--worker needs PostgreSQL; DATABASE_URL is {os.environ['DATABASE_URL']}")
            _create_database(settings.DATABASES["default"], fresh=True)
            try:
                through_worker(args.n, sink)
            finally:
                connection.close()
                _drop_database(settings.DATABASES["default"])
        else:
            if connection.vendor == "postgresql":
                _create_database(settings.DATABASES["default"], fresh=False)
            in_process(args.n, sink, profile=args.profile)


def _seed(n: int):
    """n users with verified addresses and one scored question; the rows notify() is given (untimed)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from forecasts.models import EmailAddress, Question

    call_command("migrate", verbosity=0)
    User = get_user_model()
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
    return question, recipients


def _write(question, recipients) -> tuple[int, int]:
    """One event's notify() in one transaction, through its commit; (rows written, INSERT statements)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from forecasts import notifications
    from forecasts.models import NotificationKind

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        written = notifications.notify(NotificationKind.POSTERIOR_PUBLISHED, recipients, question=question)
    inserts = sum(q["sql"].lstrip().upper().startswith("INSERT") for q in queries.captured_queries)
    return written, inserts


def through_worker(n: int, sink) -> None:
    from django.db import connection

    from config.celery import app
    from forecasts import notifications
    from forecasts.models import Notification

    question, recipients = _seed(n)
    app.conf.task_routes = {notifications.SEND_TASK: {"queue": QUEUE}}
    worker = Worker(os.environ["CELERY_BROKER_URL"], os.environ["DATABASE_URL"], sink.url)
    worker.start()
    try:
        machine = describe()
        t0 = time.perf_counter()
        written, inserts = _write(question, recipients)
        t_write = time.perf_counter() - t0
        sink.wait(n, timeout=max(120.0, n / 20))
        t_total = time.perf_counter() - t0
    except BaseException:
        print(f"--- worker log ({worker.log_path}):\n{worker.tail()}", file=sys.stderr)
        raise
    finally:
        worker.stop()  # a warm shutdown: a send still running (a duplicate, if there were one) finishes first
    sent = Notification.objects.filter(sent_at__isnull=False).count()
    print(f"machine: {machine}")
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; broker {worker.broker_url}; one worker "
          f"(prefork, concurrency 1); mail: SMTP to aiosmtpd on {sink.host}:{sink.port}")
    print(f"write {written} notifications of one event (notify + commit + queue the send): {t_write:.3f} s, "
          f"{inserts} INSERT statement(s)")
    print(f"written and sent through the worker until the sink held all {n}: {t_total:.3f} s "
          f"({n / t_total:,.0f} notifications/s; target >= 500/s)")
    print(f"sink received {sink.count} mails; rows marked sent {sent}; "
          f"load average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if sink.count != n or sent != n:
        sys.exit(f"expected exactly {n} mails and {n} rows sent; the worker's log: {worker.log_path}")
    worker.log_path.unlink()  # kept only when the run failed


def in_process(n: int, sink, *, profile: bool) -> None:
    from django.db import connection

    from forecasts import notifications

    question, recipients = _seed(n)
    # The send queued at commit is timed apart, below: here the commit queues nothing.
    queue_send, notifications.queue_send = notifications.queue_send, lambda: True
    try:
        t0 = time.perf_counter()
        written, inserts = _write(question, recipients)
        t_write = time.perf_counter() - t0
    finally:
        notifications.queue_send = queue_send
    received_before = sink.count
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    mailed = notifications.notifications_send()
    t_send = time.perf_counter() - t0
    if profiler is not None:
        profiler.disable()
    sink.wait(received_before + mailed, timeout=10)

    print(f"machine: {describe()}")
    print(f"database: {connection.vendor}; mail: SMTP to aiosmtpd on {sink.host}:{sink.port} (a thread of this "
          "process)")
    print(f"write {written} notifications of one event: {t_write:.3f} s ({written / t_write:,.0f}/s), "
          f"{inserts} INSERT statement(s)")
    print(f"send {mailed} mails in-process (claim, render text+HTML, SMTP): {t_send:.3f} s "
          f"({mailed / t_send:,.0f}/s); sink received {sink.count - received_before}")
    print(f"write + send: {written / (t_write + t_send):,.0f} notifications/s (target >= 500/s)")
    if profiler is not None:
        import pstats

        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


class Worker:
    """One `celery -A config worker` subprocess in its own process group (the pattern of
    tests/integration/conftest.py's CeleryWorker), consuming QUEUE only."""

    def __init__(self, broker_url: str, database_url: str, email_url: str):
        self.broker_url = broker_url
        self.name = f"bench-notify-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        self.log_path = Path(tempfile.mkstemp(prefix="bench-notify-worker-", suffix=".log")[1])
        self.env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url,
                    "EMAIL_URL": email_url, "DJANGO_DEBUG": "0", "FA_LOG_LEVEL": "WARNING",
                    "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONUNBUFFERED": "1"}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        import redis

        # A message left in our queue by a crashed run would send before the timed one; the rest of the Redis
        # database is not ours to wipe.
        client = redis.Redis.from_url(self.broker_url)
        client.delete(QUEUE)
        client.close()
        cmd = [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "warning", "-c", "1",
               "--pool", "prefork", "--without-gossip", "--without-mingle", "--without-heartbeat",
               "-Q", QUEUE, "-n", self.name]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        from config.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the worker exited with code {self.proc.returncode}:\n{self.tail()}")
            with contextlib.suppress(Exception):
                if any(self.name in reply for reply in app.control.ping(destination=[self.name], timeout=0.5) or []):
                    return
        self.stop()
        raise RuntimeError(f"the worker did not answer a ping within {timeout:.0f} s:\n{self.tail()}")

    def stop(self, timeout: float = 120) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _admin_connection(db):
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", user=db["USER"] or None, password=db["PASSWORD"] or None,
                            host=db["HOST"] or None, port=db["PORT"] or None)
    conn.autocommit = True
    return conn


def _create_database(db, *, fresh: bool) -> None:
    conn = _admin_connection(db)
    with conn.cursor() as cur:
        if fresh:
            cur.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{db["NAME"]}"')
    conn.close()


def _drop_database(db) -> None:
    conn = _admin_connection(db)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
    conn.close()


if __name__ == "__main__":
    main()
