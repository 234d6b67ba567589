"""Load test of the production setup on this machine: throughput, latency and the rows behind them, phase by phase.

It starts, and stops at the end, everything it measures, as the README's production section runs it:
- a PostgreSQL database of its own (fa_load, created afresh and dropped after) on the machine's server at
  127.0.0.1:5432 (never restarted), Redis database 14 (flushed before and after) as broker and cache;
- `manage.py migrate` and `collectstatic`, DJANGO_ENV=production with the documented variables (plain http on
  loopback: DJANGO_SECURE_COOKIES=false, DJANGO_SSL_REDIRECT=false), the throttles raised (FA_THROTTLE_*) so that the
  load is measured rather than refused;
- gunicorn (`--workers N`, sync or gthread), one Celery worker, and nginx in front when an nginx binary is found
  (`--nginx`): it stamps each request's arrival (`X-Request-Start: t=${msec}`, FA_REQUEST_START_HEADER), as the
  README's proxy configuration does. Without nginx the client talks to gunicorn and arrivals are stamped by the
  application's first middleware, after any wait in gunicorn's backlog.

The client is aiohttp on loopback (`pip install aiohttp`), every phase bounded in time (--seconds) and count. 200
commenters with API tokens and one open question are seeded through the services. Phases: the API root (the
yardstick: the same stack doing almost nothing), submissions at 16 concurrent clients, the API root again (the
yardstick is the mean of the two), the question's JSON, the anonymous question page, a mixed phase (submissions,
evidence, the question, the page, the scores), and the rush at close: 1,000 submissions sent evenly over the last
5 s before a question's closes_at and 100 in the second after.

For each phase: throughput, p50/p95/p99 latency, errors, the row check, the ratio to the API root's throughput in
the same run, and the client's CPU (share of one core, and of the machine). Then the machine (CPU model, AVX-512 or
AVX2, load average before and after): other work on the machine shows in the API root's figure too, so compare
ratios.

    python bench/load.py --workers 3 [--worker-class gthread --threads 4] [--seconds 20] [--nginx PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cpuinfo import cpu

ROOT = Path(__file__).resolve().parents[1]
DB = "fa_load"
REDIS_DB = 14
COMMENTERS = 200
CONCURRENCY = 16


def machine() -> str:
    model, isa = cpu()
    return f"{model}, {os.cpu_count()} cores, {isa}"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spec(i: int) -> dict:
    return {"type": "lognormal", "median": 10.0 ** (6 + (i % 50) / 10), "sigma": 0.5 + (i % 7) / 10}


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    cpu: float = 0.0
    check: str = ""
    machine_cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process group over the phase

    def record(self, status: int, latency: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(latency)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def line(self, yardstick: float) -> str:
        lat = sorted(self.latencies) or [0.0]
        q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
        return (f"{self.name:<10} {self.rate:8.1f}/s  p50/p95/p99 {1000 * q[49]:6.1f}/{1000 * q[94]:6.1f}/"
                f"{1000 * q[98]:6.1f} ms  n={len(self.latencies):<6} statuses={self.statuses} errors={self.errors}  "
                f"ratio to root {self.rate / yardstick if yardstick else 0:.2f}  client CPU "
                f"{100 * self.cpu / self.seconds:.0f}% of a core ({50 * self.cpu / self.seconds:.0f}% of the machine)"
                + (f"\n           rows: {self.check}" if self.check else "")
                + ("\n           CPU per request (ms) by process: " + ", ".join(
                    f"{group} {1000 * seconds / max(1, len(self.latencies)):.2f}"
                    for group, seconds in sorted(self.machine_cpu.items(), key=lambda kv: -kv[1]))
                   if self.machine_cpu else ""))


def cpu_by_process(roots: dict[int, str]) -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) so far of each process under test, with its role: each of `roots` (pid -> role:
    gunicorn, the Celery worker, nginx) with all its descendants, the PostgreSQL backends serving the load's
    database, Redis, and this client. `cpu_over` turns two readings into each role's share of a phase. Other work on
    the machine is left out."""
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, float, str]] = {}  # pid -> (parent, CPU seconds, command line)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # it exited
        fields = stat.rsplit(")", 1)[1].split()
        procs[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, cmdline)

    def role(pid: int) -> str | None:
        seen = 0
        while pid > 1 and seen < 64:
            if pid in roots:
                return roots[pid]
            pid, seen = procs[pid][0] if pid in procs else 0, seen + 1
        return None

    me = os.getpid()
    found: dict[int, tuple[str, float]] = {}
    for pid, (_, seconds, cmdline) in procs.items():
        group = ("client" if pid == me else role(pid)
                 or ("database" if f" {DB} " in cmdline or cmdline.startswith(SERVER_PROCESSES) else None)
                 or ("redis" if cmdline.split(" ", 1)[0].endswith("redis-server") else None))
        if group:
            found[pid] = (group, seconds)
    return found


def cpu_over(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """Each role's CPU seconds between two readings, process by process: one started within them counts from zero,
    and one that exited within them (a database connection closed) loses what it spent there, rather than taking
    all its earlier CPU out of its role's sum."""
    totals: dict[str, float] = {}
    for pid, (group, seconds) in after.items():
        totals[group] = totals.get(group, 0.0) + seconds - before.get(pid, (group, 0.0))[1]
    return totals


# PostgreSQL's shared processes (the WAL writer and the checkpointer do work for every commit); other databases'
# load on the same server, if any, shows in them too.
SERVER_PROCESSES = tuple(f"postgres: {v}/main: {p}" for v in range(12, 20)
                         for p in ("walwriter", "checkpointer", "background writer"))
STACK_ROLES: dict[int, str] = {}  # the started processes' pids -> their role in the CPU figures


class Stack:
    """The production processes, started in order and stopped (by their own pids) in reverse."""

    def __init__(self, args, env: dict[str, str], workdir: Path):
        self.args, self.env, self.workdir = args, env, workdir
        self.procs: list[subprocess.Popen] = []
        self.app_port = free_port()
        self.proxy_port = free_port() if args.nginx else None

    def start(self) -> str:
        python = self.args.python
        gunicorn = [python, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.app_port}",
                    "--workers", str(self.args.workers), "--backlog", "2048", "--log-level", "warning"]
        if self.args.worker_class == "gthread":
            gunicorn += ["--worker-class", "gthread", "--threads", str(self.args.threads)]
        self._spawn("gunicorn", gunicorn)
        self._spawn("celery", [python, "-m", "celery", "-A", "config", "worker", "--concurrency", "1",
                               "--loglevel", "warning", "--without-gossip", "--without-mingle"])
        base = f"http://127.0.0.1:{self.app_port}"
        if self.args.nginx:
            conf = self.workdir / "nginx.conf"
            conf.write_text(NGINX_CONF.format(port=self.proxy_port, app=self.app_port, dir=self.workdir))
            self._spawn("nginx", [self.args.nginx, "-p", str(self.workdir), "-c", str(conf), "-e",
                                  str(self.workdir / "nginx-error.log")])
            base = f"http://127.0.0.1:{self.proxy_port}"
        return base

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        self.procs.append(subprocess.Popen(argv, cwd=self.args.app, env=self.env, stdout=log, stderr=log,
                                           start_new_session=True))
        STACK_ROLES[self.procs[-1].pid] = {"gunicorn": "web", "celery": "worker"}.get(name, name)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


NGINX_CONF = """
daemon off;
worker_processes 1;
worker_rlimit_nofile 8192;
pid {dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fcgi;
    uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    upstream app {{ server 127.0.0.1:{app}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            # The arrival stamp the close is judged by (FA_REQUEST_START_HEADER=X-Request-Start); overwrites a
            # client's own.
            proxy_set_header X-Request-Start "t=${{msec}}";
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


def psql(*argv: str) -> None:
    subprocess.run([*argv, "-h", "127.0.0.1", "-U", "postgres"], check=True, capture_output=True)


def seed(tokens_out: list[str]) -> dict:
    """Users, tokens and the open question, through the services (run in this process, on the load database)."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from forecasts import demo, services

    User = get_user_model()
    unusable = make_password(None)
    expert = User.objects.create(username="load-expert", password=unusable)
    users = User.objects.bulk_create([User(username=f"load{i:03d}", password=unusable) for i in range(COMMENTERS)])
    tokens = Token.objects.bulk_create([Token(user=u, key=secrets.token_hex(20)) for u in users])
    tokens_out.extend(t.key for t in tokens)
    expert_token = Token.objects.create(user=expert).key
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=1),
                                        **demo.SCENARIOS[0].question)
    services.prior_set(question=question, user=expert, spec=demo.COMPUTE_PRIOR)
    services.question_open(question=question, user=expert)
    return {"question": question.pk, "expert": expert, "expert_token": expert_token}


def rows(question_id: int) -> tuple[int, int]:
    from forecasts.models import Evidence, Prediction

    return (Prediction.objects.filter(question_id=question_id).count(),
            Evidence.objects.filter(question_id=question_id).count())


async def timed(session, phase: Phase, method: str, url: str, **kw) -> tuple[int, dict | None]:
    start = time.perf_counter()
    try:
        async with session.request(method, url, **kw) as response:
            body = await response.read()
            phase.record(response.status, time.perf_counter() - start)
            if response.status >= 500:
                phase.errors += 1
            if response.content_type == "application/json":
                return response.status, json.loads(body)
            return response.status, None
    except Exception:
        phase.errors += 1
        return 0, None


async def run_closed_loop(phase: Phase, seconds: float, limit: int, request) -> None:
    """CONCURRENCY clients, each sending its next request when its last is answered, for `seconds` or `limit`."""
    deadline = time.perf_counter() + seconds
    sent = 0

    async def client(k: int) -> None:
        nonlocal sent
        while time.perf_counter() < deadline and sent < limit:
            sent += 1
            await request(k, sent)

    machine0 = cpu_by_process(STACK_ROLES)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(CONCURRENCY)))
    phase.cpu, phase.seconds = time.process_time() - cpu0, time.perf_counter() - wall0
    phase.machine_cpu = cpu_over(machine0, cpu_by_process(STACK_ROLES))


async def main_async(args, base: str, seeded: dict, tokens: list[str]) -> list[Phase]:
    import aiohttp

    qid = seeded["question"]
    auth = [{"Authorization": f"Token {t}"} for t in tokens]
    connector = aiohttp.TCPConnector(limit=2000, limit_per_host=2000)
    timeout = aiohttp.ClientTimeout(total=120)
    phases: list[Phase] = []
    async with aiohttp.ClientSession(base_url=base, connector=connector, timeout=timeout,
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:
        # Warm every worker (imports, numba's cached kernel, connections) before measuring.
        warm = Phase("warm")
        await asyncio.gather(*(timed(session, warm, "GET", "/api/", headers=auth[k]) for k in range(4 * args.workers)))
        submit_url = f"/api/questions/{qid}/predictions/"

        async def submit(phase: Phase, k: int, n: int):
            status, _ = await timed(session, phase, "POST", submit_url, headers=auth[n % COMMENTERS],
                                    json={"spec": spec(n)})
            return status

        root = Phase("api root")
        await run_closed_loop(root, args.seconds, 100_000,
                              lambda k, n: timed(session, root, "GET", "/api/", headers=auth[n % COMMENTERS]))
        phases.append(root)

        before = rows(qid)
        sub = Phase("submit")
        await run_closed_loop(sub, args.seconds, 50_000, lambda k, n: submit(sub, k, n))
        after = rows(qid)
        ok = sub.statuses.get(201, 0)
        sub.check = f"{after[0] - before[0]} new prediction rows for {ok} answers 201 " + \
            ("(equal)" if after[0] - before[0] == ok else "(MISMATCH)")
        phases.append(sub)

        # The root again right after: the yardstick is the mean of the two runs around the submissions, since this
        # kind of machine's speed drifts by a third from minute to minute (both runs are printed).
        root_again = Phase("api root")
        await run_closed_loop(root_again, args.seconds, 100_000,
                              lambda k, n: timed(session, root_again, "GET", "/api/", headers=auth[n % COMMENTERS]))
        phases.append(root_again)

        qjson = Phase("question")
        await run_closed_loop(qjson, args.seconds, 100_000, lambda k, n: timed(
            session, qjson, "GET", f"/api/questions/{qid}/", headers=auth[n % COMMENTERS]))
        phases.append(qjson)

        page = Phase("page")
        await run_closed_loop(page, args.seconds, 100_000,
                              lambda k, n: timed(session, page, "GET", f"/questions/{qid}/"))
        phases.append(page)

        mixed = Phase("mixed")
        posted = {"prediction": 0, "evidence": 0}
        rng = random.Random(1)

        async def mixed_request(k: int, n: int):
            r = rng.random()
            if r < 0.4:
                if await submit(mixed, k, n) == 201:
                    posted["prediction"] += 1
            elif r < 0.5:
                status, _ = await timed(session, mixed, "POST", f"/api/questions/{qid}/evidence/",
                                        headers=auth[n % COMMENTERS], json={"body": f"argument {n}"})
                posted["evidence"] += status == 201
            elif r < 0.7:
                await timed(session, mixed, "GET", f"/api/questions/{qid}/", headers=auth[n % COMMENTERS])
            elif r < 0.9:
                await timed(session, mixed, "GET", f"/questions/{qid}/")
            else:
                await timed(session, mixed, "GET", f"/api/questions/{qid}/scores/", headers=auth[n % COMMENTERS])

        before = rows(qid)
        await run_closed_loop(mixed, args.seconds, 50_000, mixed_request)
        after = rows(qid)
        dp, de = after[0] - before[0], after[1] - before[1]
        mixed.check = (f"{dp} prediction rows for {posted['prediction']} answers 201, {de} evidence rows for "
                       f"{posted['evidence']} " + ("(equal)" if (dp, de) == (posted["prediction"], posted["evidence"])
                                                   else "(MISMATCH)"))
        phases.append(mixed)

        phases.append(await rush(args, session, auth, seeded))
    return phases


async def rush(args, session, auth, seeded) -> Phase:
    """1,000 submissions sent evenly over the last 5 s before closes_at, 100 over the second after; then the rows."""
    from django.utils import timezone

    from forecasts import demo, services
    from forecasts.models import LogEntry, Prediction

    expert = seeded["expert"]
    closes_at = timezone.now() + timedelta(seconds=8)
    question = services.question_create(created_by=expert, closes_at=closes_at, **demo.SCENARIOS[0].question)
    services.prior_set(question=question, user=expert, spec=demo.COMPUTE_PRIOR)
    services.question_open(question=question, user=expert)
    close = closes_at.timestamp()
    url = f"/api/questions/{question.pk}/predictions/"
    phase = Phase("rush")
    results: list[tuple[float, int, int | None]] = []  # (sent at, status, prediction id)

    async def one(i: int, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.time()))
        sent = time.time()
        status, body = await timed(session, phase, "POST", url, headers=auth[i % COMMENTERS], json={"spec": spec(i)})
        results.append((sent, status, body.get("id") if status == 201 and body else None))

    plan = [close - 5 + 5 * i / 1000 for i in range(1000)] + [close + i / 100 for i in range(100)]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i, at) for i, at in enumerate(plan)))
    phase.cpu, phase.seconds = time.process_time() - cpu0, time.perf_counter() - wall0
    phase.seconds = max(phase.seconds - 3.0, 1e-9)  # the first 3 s wait for the window; rate over the window on

    before = [r for r in results if r[0] < close]
    after = [r for r in results if r[0] >= close]
    stored_ids = {r[2] for r in results if r[1] == 201}
    db_ids = set(Prediction.objects.filter(question=question).values_list("id", flat=True))
    last_on_time_refused = [close - r[0] for r in before if r[1] != 201]
    # Close it as beat would once the grace is over; the closed head must cover every stored prediction.
    services.questions_close_due(now=closes_at + timedelta(seconds=args.grace))
    question.refresh_from_db()
    closed_seq = LogEntry.objects.filter(question=question, chain=question.closed_head).values_list(
        "seq", flat=True).first()
    logged = LogEntry.objects.filter(question=question, kind="prediction")
    outside = logged.filter(seq__gt=closed_seq if closed_seq is not None else -1).count()
    phase.check = (
        f"sent before the close: {len(before)}, stored {sum(r[1] == 201 for r in before)}, refused "
        f"{sum(r[1] == 409 for r in before)} (the nearest {min(last_on_time_refused, default=0) * 1000:.0f} ms "
        f"before it, the farthest {max(last_on_time_refused, default=0) * 1000:.0f} ms), other "
        f"{sum(r[1] not in (201, 409) for r in before)}; sent after: {len(after)}, 409 "
        f"{sum(r[1] == 409 for r in after)}, stored {sum(r[1] == 201 for r in after)}; "
        f"rows {len(db_ids)} for {len(stored_ids)} answers 201 "
        + ("(the same ids)" if db_ids == stored_ids else "(MISMATCH)")
        + f"; log entries {logged.count()}, after the closed head {outside}"
    )
    return phase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "", help="nginx binary ('' for none)")
    parser.add_argument("--app", default=str(ROOT), help="the checkout to serve (to measure another commit)")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--grace", type=float, default=5.0, help="FA_CLOSE_GRACE_SECONDS for the servers")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="fa-load-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FA_", "DATABASE_", "CELERY_"))},
        "DJANGO_ENV": "production", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_SSL_REDIRECT": "false", "DJANGO_HSTS_SECONDS": "0",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "FA_THROTTLE_USER": "10000000/min", "FA_THROTTLE_ANON": "10000000/min",
        "FA_MAX_PREDICTIONS_PER_USER": "100000", "FA_MAX_EVIDENCE_PER_USER": "100000",
        "FA_VAR_DIR": str(workdir / "var"), "FA_LOG_LEVEL": "WARNING", "FA_CLOSE_GRACE_SECONDS": str(args.grace),
        "NUMBA_CACHE_DIR": str(workdir / "numba"), "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    if args.nginx:
        env["FA_REQUEST_START_HEADER"] = "X-Request-Start"
    load_before = load_average()
    psql("dropdb", "--if-exists", "--force", DB)
    psql("createdb", DB)
    subprocess.run(["redis-cli", "-n", str(REDIS_DB), "flushdb"], check=True, capture_output=True)
    stack = Stack(args, env, workdir)
    try:
        for command in (["migrate", "--no-input"], ["collectstatic", "--no-input"]):
            subprocess.run([args.python, "manage.py", *command], cwd=args.app, env=env, check=True,
                           capture_output=True)
        os.environ.update(env)
        # This process only: the row checks run between phases, from inside the client's event loop.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
        sys.path.insert(0, args.app)
        tokens: list[str] = []
        seeded = seed(tokens)
        base = stack.start()
        for _ in range(300):
            try:
                with socket.create_connection(("127.0.0.1", stack.proxy_port or stack.app_port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(2)  # the workers import the app after the socket opens
        phases = asyncio.run(main_async(args, base, seeded, tokens))
    finally:
        stack.stop()
        from django.db import connections

        connections.close_all()
        psql("dropdb", "--if-exists", "--force", DB)
        subprocess.run(["redis-cli", "-n", str(REDIS_DB), "flushdb"], check=True, capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"machine: {machine()}; load average before {load_before}, after {load_average()}")
    print(f"setup: gunicorn {args.workers} {args.worker_class} workers"
          + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
          + f", one Celery worker, {'nginx in front (arrival stamped by the proxy)' if args.nginx else 'no proxy'},"
          f" PostgreSQL at 127.0.0.1:5432, Redis db {REDIS_DB}; app {args.app}; {CONCURRENCY} clients; "
          f"{args.seconds:.0f} s a phase; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    yardstick = statistics.mean(phase.rate for phase in phases if phase.name == "api root")
    for phase in phases:
        print(phase.line(yardstick))


if __name__ == "__main__":
    main()
