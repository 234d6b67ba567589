"""Score 100,000 predictions of one question end to end through a real Celery worker on PostgreSQL.

Run it through bench/bench_scoring_pg.sh, which starts the worker on the same database and broker and stops it after.
Alone (a worker already running on BENCH_DATABASE_URL and BENCH_BROKER_URL):

    .venv/bin/python bench/bench_scoring_pg.py [--n 100000] [--runs 3] [--profile]

What is timed:
- job: from jobs.job_send (the message is published) until the Job row reads `done`, polled every 5 ms. The
  worker loads every current CDF in one query, scores them, writes 100,000 Score rows (COPY + upsert, in chunks of
  FA_SCORE_WRITE_CHUNK) and refreshes the pooled forecast. Scores are deleted before each run (not timed), so every
  run inserts, as the first scoring of a question does.
- outcome job: the same, for the outcome-scoring job (forecasts.runs.outcome_score): an outcome is recorded on the
  scored question (not timed), and each run scores the prior, the posterior, the pool and every current prediction
  against it (log score, baseline, peer, CRPS) and writes one OutcomeScore row per prediction (COPY + upsert).
- read: the floor for any job that has to look at every prediction: the same CDF bytes read with plain psycopg2
  (SELECT cdf_bytes ... fetchall, then one bytes join), on a fresh connection.
Seeding (users and predictions by COPY) is not timed and is skipped when the question already exists.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from cpuinfo import cpu

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fa_bench")
BROKER_URL = os.environ.setdefault("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["CELERY_BROKER_URL"] = BROKER_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

TITLE = "bench: scoring {n} predictions"


def ensure_database() -> None:
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    conn = psycopg2.connect(dbname="postgres", user=db["USER"] or None, password=db["PASSWORD"] or None,
                            host=db["HOST"] or None, port=db["PORT"] or None)  # fmt: skip
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{db["NAME"]}"')
    conn.close()


def machine() -> str:
    model, isa = cpu()
    import psycopg2
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        (pg,) = cur.fetchone()
    return (f"nproc={os.cpu_count()} ({len(os.sched_getaffinity(0))} usable), CPU: {model}, {isa}, "
            f"Python {platform.python_version()}, PostgreSQL {pg}, psycopg2 {psycopg2.__version__.split()[0]}")


def lognormal_cdfs(domain, n: int, seed: int = 0):
    import numpy as np
    from scipy import stats

    rng = np.random.default_rng(seed)
    x = domain.x_grid()
    medians = 10.0 ** rng.uniform(5.0, 15.0, size=n)
    sigmas = rng.uniform(0.5, 4.0, size=n)
    return stats.lognorm.cdf(x[None, :], s=sigmas[:, None], scale=medians[:, None])


def seed(n: int):
    """The question (resolved, posterior published) with n current predictions, one author each."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from forecasts import services
    from forecasts.models import Posterior, Prediction, Question, Status
    from tests.conftest import COMPUTE_QUESTION, POSTERIOR_SPEC, PRIOR_SPEC

    User = get_user_model()
    title = TITLE.format(n=n)
    question = Question.objects.filter(title=title).first()
    if question is not None and question.predictions.filter(is_current=True).count() == n:
        return question
    if question is not None:
        Question.objects.filter(pk=question.pk).delete()
    started = time.perf_counter()
    expert, _ = User.objects.get_or_create(username="bench-expert")
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=7),
                                        **{**COMPUTE_QUESTION, "title": title})  # fmt: skip
    services.prior_set(question=question, user=expert, spec=PRIOR_SPEC)
    services.question_open(question=question, user=expert)

    prefix = f"bench-{question.pk}-"
    now = timezone.now().isoformat()
    users = io.StringIO()
    for i in range(n):
        users.write(f"!\tf\t{prefix}{i}\t\t\t\tf\tt\t{now}\n")
    users.seek(0)
    predictions_table = Prediction._meta.db_table
    with transaction.atomic(), connection.cursor() as cur:
        cur.cursor.copy_expert(
            f"COPY {User._meta.db_table} (password, is_superuser, username, first_name, last_name, email, is_staff,"
            " is_active, date_joined) FROM STDIN", users)  # fmt: skip
        cur.execute(f"SELECT id FROM {User._meta.db_table} WHERE username LIKE %s ORDER BY id", [prefix + "%"])
        author_ids = [r[0] for r in cur.fetchall()]
        batch = 10_000
        for start in range(0, n, batch):
            cdfs = lognormal_cdfs(question.domain, min(batch, n - start), seed=start)
            buf = io.StringIO()
            for author_id, cdf in zip(author_ids[start : start + batch], cdfs, strict=True):
                # bytea in COPY text format: \x<hex>, its backslash escaped.
                buf.write(f'{{"type": "lognormal", "seeded": true}}\t\\\\x{cdf.tobytes().hex()}\t{float(cdf[0])!r}\t'
                          f"{float(1.0 - cdf[-1])!r}\t{{}}\t\\N\t[]\t{question.pk}\t{author_id}\t{now}\tt\n")
            buf.seek(0)
            cur.cursor.copy_expert(
                f"COPY {predictions_table} (spec, cdf_bytes, mass_below, mass_above, summary, fit, notes,"
                " question_id, author_id, created_at, is_current) FROM STDIN", buf)  # fmt: skip
    services.question_close(question=question, user=expert)
    from forecasts import stored

    fields = stored.distribution_fields(spec=POSTERIOR_SPEC, domain=question.domain)
    Posterior.objects.create(question=question, **fields)
    Question.objects.filter(pk=question.pk).update(status=Status.RESOLVED, resolved_at=timezone.now())
    with connection.cursor() as cur:
        cur.execute(f"VACUUM ANALYZE {predictions_table}")
    print(f"seeded {n} predictions in {time.perf_counter() - started:.1f}s (not timed)")
    return question


def reset_for_outcome(question):
    """An outcome on the question (recorded once, not timed), its scores gone, and a fresh outcome job."""
    from django.contrib.auth import get_user_model

    from amplification.outcomes import place_outcome
    from forecasts.models import Job, Outcome, OutcomeScore

    if not Outcome.objects.filter(question=question).exists():
        value = 3e9  # inside the compute question's range
        placed = place_outcome(value, question.domain)
        Outcome.objects.create(question=question, value=value, x=value, bucket=placed.bucket,
                               recorded_by=get_user_model().objects.order_by("pk").first())
    OutcomeScore.objects.filter(question=question).delete()
    return Job.objects.create(question=question, kind=Job.Kind.OUTCOME)


def reset_for_scoring(question):
    """Scores and their notifications gone, question back to `resolved`, a fresh score job: the state right after the
    posterior publish (each run would otherwise leave 100,000 more notification rows for the next to index)."""
    from forecasts.models import Job, Notification, Question, Score, Status

    Score.objects.filter(question=question).delete()
    Notification.objects.filter(question=question).delete()
    Question.objects.filter(pk=question.pk).update(status=Status.RESOLVED, scored_at=None)
    return Job.objects.create(question=question, kind=Job.Kind.SCORE)


def wait_for_worker(timeout: float = 60) -> str:
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0)
        if replies:
            return ", ".join(name for reply in replies for name in reply)
    sys.exit(f"no Celery worker answered on {BROKER_URL} within {timeout:.0f}s (start one: bench_scoring_pg.sh)")


def time_job(question, timeout: float = 600, reset=None) -> tuple[float, dict]:
    from django.db import connection

    from forecasts import jobs
    from forecasts.models import Job

    job = (reset or reset_for_scoring)(question)
    with connection.cursor() as cur:
        started = time.perf_counter()
        jobs.job_send(job.pk)
        while True:
            cur.execute("SELECT state FROM forecasts_job WHERE id = %s", [job.pk])
            (state,) = cur.fetchone()
            if state in ("done", "failed"):
                elapsed = time.perf_counter() - started
                break
            if time.perf_counter() - started > timeout:
                sys.exit(f"job {job.pk} not done after {timeout}s")
            time.sleep(0.005)
    row = Job.objects.values("state", "result", "error", "attempts", "queued_at", "started_at", "finished_at").get(
        pk=job.pk)  # fmt: skip
    if row["state"] != "done":
        sys.exit(f"job {job.pk} failed: {row['error']}")
    return elapsed, row


def time_read(question_id: int) -> tuple[float, int]:
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    conn = psycopg2.connect(dbname=db["NAME"], user=db["USER"] or None, password=db["PASSWORD"] or None,
                            host=db["HOST"] or None, port=db["PORT"] or None)  # fmt: skip
    try:
        with conn.cursor() as cur:
            started = time.perf_counter()
            cur.execute("SELECT cdf_bytes FROM forecasts_prediction WHERE question_id = %s AND is_current",
                        [question_id])  # fmt: skip
            data = b"".join(r[0] for r in cur.fetchall())
            elapsed = time.perf_counter() - started
    finally:
        conn.close()
    return elapsed, len(data)


def profile(question, top: int = 30) -> None:
    """cProfile question_score in this process against the same database: where the job's time goes."""
    import cProfile
    import pstats

    from forecasts import runs

    job = reset_for_scoring(question)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(runs.question_score, job_id=job.pk)
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    print(f"\nin-process question_score under cProfile: {total:.2f}s (profiling adds overhead)")
    parts = [
        ("current_cdfs (load CDFs)", "runs.py", "current_cdfs"),
        ("score_predictions (numerics)", "scoring.py", "score_predictions"),
        ("_rank", "runs.py", "_rank"),
        ("_write_scores_postgres (all chunks)", "runs.py", "_write_scores_postgres"),
        ("aggregate_store", "runs.py", "aggregate_store"),
        ("job_progress", "jobs.py", "job_progress"),
    ]
    print(f"{'part':40} {'calls':>6} {'cumulative s':>13}")
    for label, file_end, name in parts:
        for (filename, _, func), (_, ncalls, _, cumtime, _) in stats.stats.items():
            if func == name and filename.endswith(file_end):
                print(f"{label:40} {ncalls:>6} {cumtime:>13.3f}")
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up run")
    parser.add_argument("--profile", action="store_true", help="also cProfile question_score in-process")
    args = parser.parse_args()

    import django

    ensure_database_first()
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(machine())
    question = seed(args.n)
    workers = wait_for_worker()
    print(f"worker(s): {workers}; FA_SCORE_WRITE_CHUNK={os.environ.get('FA_SCORE_WRITE_CHUNK', '')} "
          f"(this process: {settings.FA_SCORE_WRITE_CHUNK}); "
          f"database {settings.DATABASES['default']['NAME']}")

    cold, row = time_job(question)
    print(f"n={args.n}: first job on a fresh worker (warm-up, not counted): {cold:.3f}s")
    job_times = []
    for i in range(args.runs):
        # Each job takes FOR KEY SHARE locks on every prediction row (the Score foreign keys), which leaves 100,000
        # tuples for the next reader to re-check and re-hint: one untimed read settles them, so every timed job and
        # read starts from the same state (that of a question scored for the first time).
        time_read(question.pk)
        elapsed, row = time_job(question)
        in_worker = (row["finished_at"] - row["started_at"]).total_seconds()
        print(f"  job run {i + 1}: {elapsed:.3f}s end to end (job_send -> done); in the worker {in_worker:.3f}s; "
              f"result {row['result']}")  # fmt: skip
        job_times.append(elapsed)
    outcome_jobs = []
    time_job(question, reset=reset_for_outcome)  # warm-up: the outcome kernel's first call in the worker
    for i in range(args.runs):
        time_read(question.pk)
        elapsed, row = time_job(question, reset=reset_for_outcome)
        in_worker = (row["finished_at"] - row["started_at"]).total_seconds()
        print(f"  outcome job run {i + 1}: {elapsed:.3f}s end to end; in the worker {in_worker:.3f}s; "
              f"result {row['result']}")  # fmt: skip
        outcome_jobs.append(elapsed)
    reads = []
    time_read(question.pk)
    for i in range(max(5, args.runs)):
        elapsed, size = time_read(question.pk)
        print(f"  read run {i + 1}: {elapsed:.3f}s for {size / 1e6:.0f} MB of CDF bytes")
        reads.append(elapsed)
    job_s, read_s = statistics.median(job_times), statistics.median(reads)
    print(f"\nn={args.n}  job median {job_s:.3f}s (best {min(job_times):.3f}s, target <= 5 s)  "
          f"read median {read_s:.3f}s (best {min(reads):.3f}s)  ratio job/read {job_s / read_s:.2f}x "
          "(target <= 3x)")  # fmt: skip
    outcome_s = statistics.median(outcome_jobs)
    print(f"n={args.n}  outcome job median {outcome_s:.3f}s (best {min(outcome_jobs):.3f}s, target <= 3 s)  "
          f"ratio outcome job/read {outcome_s / read_s:.2f}x")
    if args.profile:
        profile(question)


def ensure_database_first() -> None:
    # Django must not open a connection to a database that does not exist yet; settings alone are safe to load.
    from django.conf import settings

    settings.DATABASES  # noqa: B018 - load settings
    ensure_database()


if __name__ == "__main__":
    main()
