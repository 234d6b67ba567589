"""The preview endpoint's server time, and the size of the JavaScript the pages load.

    .venv/bin/python bench/bench_preview.py [--calls 1000]

What is timed: `POST /api/questions/{id}/preview/` through Django's test client, as the web editor sends it (a
signed-in session, the CSRF token checked, DEBUG off), on SQLite in a temporary folder, for two specs on the compute
question (log axis, 100 to 1e18, both sides open): three quantiles (a lognormal fit), a mixture of ten lognormals, and
a mixture of ten 3-quantile specs (ten lognormal fits: the slowest mixture the editor sends).
Each call is timed alone (time.perf_counter around client.post); the cases run round robin (one call of each per
round) so that all meet the same load, and after 50 warm-up rounds `--calls` rounds give each case's median and p95.
The engine's part (building the
distribution and its summary, services.distribution_preview) is timed the same way, so what remains is Django, DRF,
the session and the question query; and GET /api/questions/{id}/ through the same client is the floor any signed-in
API call pays here (ratios to it stay meaningful when the shared machine is loaded). Target: p95 <= 20 ms.

Sizes: every JavaScript file under static/ that a page loads (d3, plot.js, editor.js), raw and gzipped (level 9,
as whitenoise compresses for production), and axe-core, which only the browser tests load.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from cpuinfo import cpu

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for name in ("DATABASE_URL", "CELERY_BROKER_URL"):
    os.environ.pop(name, None)  # SQLite and in-process tasks, whatever the shell exports
os.environ["DJANGO_ENV"] = "development"
os.environ["DJANGO_DEBUG"] = "false"  # as served: no query log kept per request
os.environ["FA_VAR_DIR"] = tempfile.mkdtemp(prefix="bench-preview-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Thousands of calls from one user in a minute: the API's per-user throttle would refuse them (it is not what is timed).
os.environ["FA_THROTTLE_USER"] = "100000000/min"

QUANTILES = {"type": "quantiles", "points": [{"p": 0.05, "x": 1e9}, {"p": 0.5, "x": 1e13}, {"p": 0.95, "x": 1e17}]}
MIXTURE = {"type": "mixture", "components": [
    {"weight": 1 + i % 3, "spec": {"type": "lognormal", "median": 10.0 ** (6 + i), "sigma": 0.5 + 0.2 * i}}
    for i in range(10)
]}
FITTED_MIXTURE = {"type": "mixture", "components": [
    {"weight": 1 + i % 3, "spec": {"type": "quantiles", "points": [
        {"p": 0.05, "x": 10.0 ** (5 + i)}, {"p": 0.5, "x": 10.0 ** (6.5 + i)}, {"p": 0.95, "x": 10.0 ** (8.5 + i)}]}}
    for i in range(10)
]}


def cpu_line() -> str:
    model, simd = cpu()
    return f"{model}, {simd}"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def js_sizes() -> list[tuple[str, int, int]]:
    files = sorted((ROOT / "static" / "vendor").glob("*/*.js")) + sorted((ROOT / "static" / "js").glob("*.js"))
    return [(str(f.relative_to(ROOT)), len(data := f.read_bytes()), len(gzip.compress(data, compresslevel=9)))
            for f in files]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from forecasts import demo, services

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(username="bench", password="not-used-here")
    question = services.question_create(created_by=user, closes_at=timezone.now() + timedelta(days=7),
                                        **demo.SCENARIOS[0].question)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(f"/questions/{question.pk}/")  # sets the CSRF cookie, as the page does for the editor
    token = client.cookies["csrftoken"].value
    url = f"/api/questions/{question.pk}/preview/"

    load = os.getloadavg()
    print(f"machine: nproc={os.cpu_count()}, CPU: {cpu_line()}, Python {platform.python_version()}, "
          f"Django {django.get_version()}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"POST {url} through Django's test client, SQLite, session + CSRF, DEBUG off; "
          f"{args.calls} timed rounds (round robin over the cases) after 50 warm-up rounds")
    import json

    def post(spec):
        body = json.dumps({"spec": spec})

        def call():
            response = client.post(url, data=body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
            assert response.status_code == 200, response.content

        return call

    def read():
        # The floor in this run: the same client, session and middleware reading the question (the session, the
        # user, the organizer check and the question, as a preview does), so the figures can be read as ratios
        # when the shared machine is loaded.
        response = client.get(f"/api/questions/{question.pk}/")
        assert response.status_code == 200, response.content

    def engine(spec):
        return lambda: services.distribution_preview(question=question, spec=spec)

    cases = {
        "GET the question (floor)": read,
        "3 quantiles": post(QUANTILES),
        "  engine alone": engine(QUANTILES),
        "10-component mixture": post(MIXTURE),
        "  engine alone ": engine(MIXTURE),
        "10-component mixture of 3-quantile fits": post(FITTED_MIXTURE),
        "  engine alone  ": engine(FITTED_MIXTURE),
    }
    # Round robin, one call of each case per round, so that every case meets the same load on a shared machine.
    # Wall-clock time, and this process's CPU time over the same call: on a machine shared with other work the
    # wall clock also counts the time the process waited for a core, the CPU time does not (it is close to what an
    # idle machine's wall clock would show; the process runs one thread here).
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu_times: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(50 + args.calls):
        for name, fn in cases.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            if round_ >= 50:  # the first 50 rounds warm up
                times[name].append((time.perf_counter() - start) * 1000)
                cpu_times[name].append((time.process_time() - start_cpu) * 1000)
    floor = statistics.median(times["GET the question (floor)"])
    for name, values in times.items():
        ratio = "" if name.startswith(("GET", " ")) else f" | {statistics.median(values) / floor:.2f}x the floor"
        target = " (target p95 <= 20 ms)" if not name.startswith(("GET", " ")) else ""
        cpu_values = cpu_times[name]
        print(f"  {name:40s} wall: median {statistics.median(values):6.2f} ms, p95 {p95(values):6.2f} ms{target}{ratio}"
              f"\n  {'':40s} CPU:  median {statistics.median(cpu_values):6.2f} ms, p95 {p95(cpu_values):6.2f} ms")

    print("JavaScript (raw / gzip -9):")
    page_raw = page_gz = 0
    for path, raw, gz in js_sizes():
        loaded = "axe-core" not in path  # axe-core is for the browser tests only
        page_raw += raw if loaded else 0
        page_gz += gz if loaded else 0
        print(f"  {path:48s} {raw / 1024:8.1f} KiB / {gz / 1024:7.1f} KiB{'' if loaded else '  (tests only)'}")
    print(f"  {'loaded by the question page':48s} {page_raw / 1024:8.1f} KiB / {page_gz / 1024:7.1f} KiB")


if __name__ == "__main__":
    main()
