"""In-process profile of the submission path: CPU and SQL statements per `POST .../predictions/`.

Django's test client (no network, no gunicorn) on PostgreSQL at 127.0.0.1:5432, in a database of its own
(fa_profile, dropped after), with the broker on Redis db 14 so queued jobs are published as in production but run by
nobody (the worker's share is not counted here). Prints the machine, CPU ms and wall ms per submission, the same
for the API root (load.py's yardstick) and their ratio, SQL
statements per submission (each statement's SQL with --sql), and the same for `GET /api/questions/{id}/`.

    .venv/bin/python bench/profile_submit.py [--n 300] [--sql]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from cpuinfo import cpu

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB = "fa_profile"
os.environ.update({
    "DJANGO_ENV": "test",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
    "FA_THROTTLE_USER": "100000/min",
    "DJANGO_SETTINGS_MODULE": "config.settings",
})


def machine() -> str:
    model, isa = cpu()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return f"{model}, {os.cpu_count()} cores, {isa}, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--sql", action="store_true", help="print the statements of one submission")
    parser.add_argument("--profile", action="store_true", help="cProfile the submissions (top 25 by own time)")
    args = parser.parse_args()
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB], check=True)
        subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=True, capture_output=True)


def run(args) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from forecasts import demo, services
    from forecasts.models import Job

    call_command("migrate", verbosity=0)
    User = get_user_model()
    expert = User.objects.create(username="expert", password=make_password(None))
    users = User.objects.bulk_create([User(username=f"c{i:04d}", password=make_password(None)) for i in range(args.n)])
    tokens = Token.objects.bulk_create([Token(user=u, key=f"{u.pk:040d}") for u in users])
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=1),
                                        **demo.SCENARIOS[0].question)
    services.prior_set(question=question, user=expert, spec=demo.COMPUTE_PRIOR)
    services.question_open(question=question, user=expert)
    client = Client()
    url = f"/api/questions/{question.pk}/predictions/"
    body = '{"spec": {"type": "lognormal", "median": 1e9, "sigma": 2.0}}'

    # Warm up (imports, numba, connection) on a throwaway author.
    warm = User.objects.create(username="warm")
    warm_token = Token.objects.create(user=warm)
    client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {warm_token.key}")

    counts: list[int] = []
    kinds: collections.Counter[str] = collections.Counter()
    seconds: collections.Counter[str] = collections.Counter()
    sample: list[str] = []
    import cProfile

    # CPU time, not wall: a statement's wait for PostgreSQL is the database's cost, not this process's.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    if profiler:
        profiler.enable()
    # Each submission is followed by one GET of the API root with the same token, load.py's yardstick (the same stack
    # doing almost nothing), timed apart: the two then see the same machine, whose speed here drifts by a fifth
    # from minute to minute, and their ratio holds still where each figure alone does not.
    cpu = wall = cpu_root = 0.0
    for i, token in enumerate(tokens):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(url, body, content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Token {token.key}")
        cpu, wall = cpu + time.process_time() - cpu0, wall + time.perf_counter() - wall0
        assert response.status_code == 201, response.content
        if profiler is None:
            cpu_root0 = time.process_time()
            with CaptureQueriesContext(connection):  # the same recording of statements as the submission's
                assert client.get("/api/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
            cpu_root += time.process_time() - cpu_root0
        counts.append(len(ctx.captured_queries))
        for q in ctx.captured_queries:
            kinds[q["sql"].split()[0]] += 1
            seconds[re.sub(r"\d+", "N", q["sql"][:60])] += float(q["time"])
        if i == len(tokens) // 2:
            sample = [q["sql"] for q in ctx.captured_queries]
    if profiler:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
    n = len(tokens)
    jobs = Job.objects.filter(question=question, kind=Job.Kind.AGGREGATE).count()

    get_counts = []
    cpu_get0 = time.process_time()
    for token in tokens[:100]:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/api/questions/{question.pk}/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code \
                == 200
        get_counts.append(len(ctx.captured_queries))
    cpu_get = time.process_time() - cpu_get0

    print(f"machine: {machine()}")
    print(f"submissions: {n}, CPU {1000 * cpu / n:.1f} ms each (web process, in-process client), wall "
          f"{1000 * wall / n:.1f} ms each")
    if cpu_root:
        print(f"GET /api/ (the root), one after each submission: CPU {1000 * cpu_root / n:.1f} ms each; root / "
              f"submission CPU {cpu_root / cpu:.2f}")
    print(f"SQL statements per submission: mean {statistics.mean(counts):.2f}, min {min(counts)}, max {max(counts)}; "
          f"by kind per submission: " + ", ".join(f"{k} {v / n:.2f}" for k, v in kinds.most_common()))
    print(f"pooled-forecast jobs queued: {jobs} for {n} submissions")
    print(f"GET question: CPU {10 * cpu_get:.1f} ms each, SQL statements mean {statistics.mean(get_counts):.2f}, "
          f"max {max(get_counts)}")
    print("database time per submission by statement (ms): " + "; ".join(
        f"{sql.split(' FROM ')[0][:40]}.. {1000 * t / n:.1f}" for sql, t in seconds.most_common()))
    if args.sql:
        print("\n".join(f"  {sql[:160]}" for sql in sample))


if __name__ == "__main__":
    main()
