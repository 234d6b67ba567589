"""Fixtures for the integration suite: real PostgreSQL, real Redis, real Celery worker processes.

scripts/test exports DATABASE_URL (postgres://...), CELERY_BROKER_URL (redis://...) and FA_TEST_PG_RESTART (a shell
command that restarts that PostgreSQL) before it runs `pytest -m integration`; see docs/testing.md.

Every test in this directory is marked `integration` automatically and runs with pytest-django's `transactional_db`:
a worker is another process, so it only sees rows that the test has committed.

Fixtures:
    celery_worker_proc   a running worker subprocess on the test database and CELERY_BROKER_URL (a CeleryWorker)
    celery_worker_factory  start more workers, optionally on another broker: factory(broker_url=own_redis.url)
    own_redis            a private redis-server on a free port with .url, .stop(), .start()
    pg_restart           callable: restart the PostgreSQL in use (runs $FA_TEST_PG_RESTART) and wait for it
Helpers:
    broker_url(url)      context manager: this (the test) process publishes to `url` inside the block
    reset_broker_connections()  drop this process's pooled broker connections (after the broker was restarted)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORKER_READY_TIMEOUT = float(os.environ.get("FA_TEST_WORKER_READY_TIMEOUT", "30"))
# Short, so a killed worker's task comes back within the test; the settings refuse a visibility timeout at or below
# the task time limit (a live task would be handed to a second worker), so the test workers' limits are shorter still.
WORKER_VISIBILITY_TIMEOUT = "15"
WORKER_TASK_TIME_LIMIT, WORKER_TASK_SOFT_TIME_LIMIT = "12", "10"


# --- Marking and environment checks --------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Before `-m` deselects: mark every test under tests/integration/ `integration` (unless it is a browser test)
    and give it pytest-django's transactional database (a worker is another process: it sees committed rows only).
    """
    for item in items:
        path = Path(str(item.path)).resolve()
        if HERE not in path.parents or item.get_closest_marker("browser") is not None:
            continue
        item.add_marker(pytest.mark.integration)
        db_marker = item.get_closest_marker("django_db")
        if db_marker is None:
            item.add_marker(pytest.mark.django_db(transaction=True))
        elif not db_marker.kwargs.get("transaction") and not (db_marker.args and db_marker.args[0]):
            raise pytest.UsageError(
                f"{item.nodeid}: integration tests need @pytest.mark.django_db(transaction=True) (or no django_db "
                "marker at all): the Celery worker is another process and only sees committed rows"
            )


def _environment_problems() -> list[str]:
    problems = []
    db_url = os.environ.get("DATABASE_URL", "")
    if urlsplit(db_url).scheme not in ("postgres", "postgresql", "pgsql"):
        problems.append(
            f"DATABASE_URL must be a postgres:// URL for the integration suite (it is {db_url!r})"
        )
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker:
        problems.append("CELERY_BROKER_URL must be set (redis://...) for the integration suite")
    elif urlsplit(broker).scheme not in ("redis", "rediss"):
        problems.append(
            f"CELERY_BROKER_URL must be a redis:// URL for the integration suite (it is {broker!r})"
        )
    return problems


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """Integration tests selected without the servers: a usage error, never a silent skip."""
    if any(item.get_closest_marker("integration") for item in session.items):
        problems = _environment_problems()
        if problems:
            raise pytest.UsageError(
                "integration tests selected but the environment is wrong:\n  - "
                + "\n  - ".join(problems)
                + "\nRun them through scripts/test (FA_TEST_SUITES=integration scripts/test), which starts the servers."
            )


@pytest.fixture(autouse=True)
def _integration_test(request):
    """Fail (not skip) an integration test whose servers are not configured."""
    if request.node.get_closest_marker("integration") is None:
        yield
        return
    problems = _environment_problems()
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER or os.environ["CELERY_BROKER_URL"] != settings.CELERY_BROKER_URL:
        pytest.fail(
            f"Django settings did not pick up CELERY_BROKER_URL (eager={settings.CELERY_TASK_ALWAYS_EAGER}, "
            f"broker={settings.CELERY_BROKER_URL!r})",
            pytrace=False,
        )
    yield


# --- Broker helpers for this (the test) process -------------------------------------------------------------------


def _celery_app():
    from config.celery import app

    return app


def reset_broker_connections() -> None:
    """Close and forget this process's pooled broker connections and producers.

    Needed after the broker URL changed or the broker was restarted: otherwise the next publish may go out on a
    pooled connection to the old (or dead) server.
    """
    import kombu.pools

    app = _celery_app()
    amqp = app.__dict__.get("amqp")
    if amqp is not None and amqp._producer_pool is not None:
        with contextlib.suppress(Exception):
            amqp._producer_pool.force_close_all()
        amqp._producer_pool = None
    if app._pool is not None:
        with contextlib.suppress(Exception):
            app._pool.force_close_all()
        app._pool = None
    with contextlib.suppress(Exception):
        kombu.pools.reset()


@contextlib.contextmanager
def broker_url(url: str):
    """Inside the block, tasks sent from this process go to the broker at `url` (e.g. own_redis.url).

    Celery reads the CELERY_BROKER_URL environment variable *before* app.conf.broker_url
    (celery.app.utils.Settings.broker_url), and the integration run exports it, so both are switched.
    """
    app = _celery_app()
    old_conf, old_env = app.conf.broker_url, os.environ.get("CELERY_BROKER_URL")
    reset_broker_connections()
    app.conf.broker_url = url
    os.environ["CELERY_BROKER_URL"] = url
    try:
        assert app.conf.broker_write_url == url, app.conf.broker_write_url
        yield url
    finally:
        reset_broker_connections()
        app.conf.broker_url = old_conf
        if old_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = old_env


def _flush_redis_db(url: str) -> None:
    """Wipe the Redis database a broker URL names: no queued or unacknowledged message from an earlier test."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


# --- Worker processes ---------------------------------------------------------------------------------------------


def _test_database_url() -> str:
    """DATABASE_URL for the database pytest-django created (test_<name>), built from the live Django settings."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    assert db["ENGINE"].endswith("postgresql"), db["ENGINE"]
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return urlunsplit(("postgres", f"{auth}{host}{port}", "/" + quote(db["NAME"]), "", ""))


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


class CeleryWorker:
    """A real `celery -A config worker` subprocess (prefork, one child) in its own process group."""

    def __init__(
        self, broker: str, database_url: str, log_dir: Path, extra_env: dict[str, str] | None = None
    ):
        self.broker_url = broker
        self.database_url = database_url
        self.name = f"test-{uuid.uuid4().hex[:12]}@{socket.gethostname()}"
        self.log_path = log_dir / f"celery-{self.name.split('@')[0]}.log"
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    # public ---------------------------------------------------------------------------------------------------
    def start(self, timeout: float = WORKER_READY_TIMEOUT) -> CeleryWorker:
        if self.alive():
            raise RuntimeError(f"worker {self.name} is already running")
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            CELERY_BROKER_URL=self.broker_url,
            FA_VISIBILITY_TIMEOUT=WORKER_VISIBILITY_TIMEOUT,
            FA_TASK_TIME_LIMIT=WORKER_TASK_TIME_LIMIT,
            FA_TASK_SOFT_TIME_LIMIT=WORKER_TASK_SOFT_TIME_LIMIT,
            DJANGO_SETTINGS_MODULE="config.settings",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        # -n NAME@%h would be expanded by celery to the same socket.gethostname() we use for the destination.
        cmd = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "-l", "info", "-c", "1", "--pool", "prefork",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", self.name,
        ]  # fmt: skip
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = WORKER_READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                pytest.fail(
                    f"celery worker {self.name} exited with code {code} before it was ready; log tail:\n"
                    f"{_tail(self.log_path)}",
                    pytrace=False,
                )
            if self.ping(timeout=0.5):
                return
        self._terminate(signal.SIGKILL)
        pytest.fail(
            f"celery worker {self.name} did not answer ping within {timeout:.0f}s; log tail:\n{_tail(self.log_path)}",
            pytrace=False,
        )

    def ping(self, timeout: float = 0.5) -> bool:
        """True if the worker answers a broadcast ping (sent through its own broker)."""
        app = _celery_app()
        try:
            with app.connection_for_write(self.broker_url) as conn:
                replies = app.control.ping(destination=[self.name], timeout=timeout, connection=conn)
        except Exception:
            time.sleep(timeout)
            return False
        return any(self.name in reply for reply in replies or [])

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the main process and its pool children (a crash: unacknowledged tasks stay on the broker)."""
        self._terminate(signal.SIGKILL)

    def stop(self, timeout: float = 30) -> None:
        """Graceful shutdown (SIGTERM: warm shutdown, the running task finishes), then wait for the whole group."""
        self._terminate(signal.SIGTERM, timeout=timeout)

    def restart(self, timeout: float = WORKER_READY_TIMEOUT) -> CeleryWorker:
        if self.alive():
            self.stop()
        return self.start(timeout)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    # internals ------------------------------------------------------------------------------------------------
    def _group_alive(self, pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _terminate(self, sig: int, timeout: float = 30) -> None:
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the worker leads its own process group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        # Pool children are not our children: wait until the group is empty (they exit on SIGKILL at once,
        # and on SIGTERM once the parent has told them to).
        deadline = time.monotonic() + (5 if sig == signal.SIGKILL else timeout)
        while self._group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._group_alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            end = time.monotonic() + 5
            while self._group_alive(pgid) and time.monotonic() < end:
                time.sleep(0.05)

    def close(self) -> None:
        if self.alive():
            self.stop(timeout=15)
        elif self.proc is not None:
            self._terminate(signal.SIGKILL)


@pytest.fixture
def celery_worker_factory(request, transactional_db, tmp_path):
    """factory(broker_url=None, start=True, extra_env=None) -> CeleryWorker; all are stopped at teardown.

    The worker's DATABASE_URL names the test database pytest-django created; its broker defaults to
    CELERY_BROKER_URL. The broker's Redis database is wiped before the first worker on it starts, so messages left
    by an earlier test (queued, or unacknowledged by a killed worker) cannot run in this one.
    """
    workers: list[CeleryWorker] = []
    flushed: set[str] = set()
    database_url = _test_database_url()

    def factory(
        broker_url: str | None = None, start: bool = True, extra_env: dict | None = None
    ) -> CeleryWorker:
        broker = broker_url or os.environ["CELERY_BROKER_URL"]
        if broker not in flushed:
            _flush_redis_db(broker)
            flushed.add(broker)
        worker = CeleryWorker(broker, database_url, tmp_path, extra_env)
        workers.append(worker)
        if start:
            worker.start()
        return worker

    yield factory
    for worker in workers:
        with contextlib.suppress(Exception):
            worker.close()
    reset_broker_connections()


@pytest.fixture
def celery_worker_proc(celery_worker_factory) -> CeleryWorker:
    """A running worker on the test database and CELERY_BROKER_URL; .kill() .stop() .restart() .log_text()."""
    return celery_worker_factory()


# --- A private Redis ------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A private redis-server (nothing kept on disk) that a test may stop and start again on the same port."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.fail("redis-server is not installed (scripts/test installs it)", pytrace=False)
        self.port = _free_port()
        self.workdir = workdir
        self.log_path = workdir / f"redis-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self, timeout: float = 10) -> OwnRedis:
        if self.proc is not None and self.proc.poll() is None:
            return self
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(self.workdir)]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"redis-server on port {self.port} exited:\n{_tail(self.log_path)}", pytrace=False
                )
            if self.ping():
                return self
            time.sleep(0.05)
        pytest.fail(
            f"redis-server on port {self.port} did not answer:\n{_tail(self.log_path)}", pytrace=False
        )

    def stop(self) -> None:
        """Kill the server (as a crash would): connections drop, nothing is saved."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
        reset_broker_connections()


# --- PostgreSQL restarts ------------------------------------------------------------------------------------------


def _pg_ready(timeout: float = 60) -> bool:
    from django.conf import settings

    db = settings.DATABASES["default"]
    cmd = ["pg_isready", "-q", "-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(cmd, check=False).returncode == 0:
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def pg_restart():
    """Callable: restart the PostgreSQL in use ($FA_TEST_PG_RESTART) and return once it accepts connections.

    This process's Django connections are stale afterwards: call django.db.close_old_connections() (or just query:
    CONN_HEALTH_CHECKS replaces a dead connection at the next request/close_old_connections).
    """
    command = os.environ.get("FA_TEST_PG_RESTART")
    if not command:
        pytest.fail("FA_TEST_PG_RESTART is not set (scripts/test sets it to restart the PostgreSQL in use)")

    def restart(timeout: float = 120) -> None:
        result = subprocess.run(
            command,
            shell=True,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            pytest.fail(
                f"FA_TEST_PG_RESTART failed ({result.returncode}): {command}\n{result.stdout}\n{result.stderr}",
                pytrace=False,
            )
        if not _pg_ready(timeout):
            pytest.fail(f"PostgreSQL did not come back within {timeout}s after: {command}", pytrace=False)

    return restart
