"""Throttles are held across gunicorn workers sharing Redis (issue #13): a process-local cache would give each worker
its own five wrong passwords a minute, so an attacker spreading requests over workers would get five per worker.

An outsider sends wrong passwords for `organizer` to POST /api/auth/token/ on a real `gunicorn config.wsgi -w 2`
whose cache is a private Redis. The access log records which worker (pid) answered each request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, _free_port, _tail, _test_database_url

START_TIMEOUT = 60


def _post_token(base: str, password: str) -> int:
    request = urllib.request.Request(
        f"{base}/api/auth/token/", data=json.dumps({"username": "organizer", "password": password}).encode(),
        headers={"Content-Type": "application/json", "Connection": "close"}, method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _answers(log: Path) -> list[tuple[int, int]]:
    """(worker pid, status) per token request, in order, from the access log."""
    rows = []
    for line in log.read_text().splitlines():
        pid, code, path = line.split()
        if path == "/api/auth/token/":
            rows.append((int(pid.strip("<>")), int(code)))  # gunicorn writes the pid as <1234>
    return rows


@pytest.fixture
def gunicorn_two_workers(tmp_path, own_redis):
    port = _free_port()
    access_log = tmp_path / "access.log"
    error_log = tmp_path / "gunicorn.log"
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "FA_CACHE_URL": own_redis.url,
           "FA_THROTTLE_LOGIN": "5/min", "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", "2", "--bind", f"127.0.0.1:{port}",
           "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(s)s %(U)s",
           "--error-logfile", str(error_log)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{_tail(error_log)}", pytrace=False)
            try:
                urllib.request.urlopen(f"{base}/api/schema/", timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not answer within {START_TIMEOUT}s:\n{_tail(error_log)}",
                                pytrace=False)
                time.sleep(0.2)
        yield base, access_log
    finally:
        proc.terminate()  # gunicorn's arbiter stops its workers on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)


def test_it_holds_throttles_across_two_gunicorn_workers_sharing_redis(gunicorn_two_workers, django_user_model):
    base, access_log = gunicorn_two_workers
    django_user_model.objects.create_user("organizer", password="the-right-one-42", is_staff=True)
    codes = [_post_token(base, "wrong-wrong-wrong") for _ in range(6)]
    assert codes == [401] * 5 + [429]
    # The count is the shared one if both workers answered among the first six: with a per-worker cache neither would
    # have seen five failures before the sixth, and the sixth would be a 401. Otherwise keep asking until the second
    # worker answers: it must refuse too, the right password included. (The kernel, not we, picks the worker.)
    for _ in range(200):
        answered = _answers(access_log)
        if len({pid for pid, _ in answered[:6]}) == 2 or len({pid for pid, _ in answered[5:]}) == 2:
            break
        assert _post_token(base, "the-right-one-42") == 429
    answers = _answers(access_log)
    assert len({pid for pid, _ in answers[:6]}) == 2 or len({pid for pid, _ in answers[5:]}) == 2, answers
    assert all(code == 429 for _, code in answers[5:]), answers
