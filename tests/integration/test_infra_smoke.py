"""The test infrastructure itself works: a real worker, a private Redis, a PostgreSQL restart (integration suite),
and Playwright driving Debian's chromium against pytest-django's live_server (browser suite)."""

import os
import signal

import pytest
from django.db import close_old_connections, connection

CHROMIUM = "/usr/bin/chromium"
# As root and on a closed network: no sandbox, and no background connections that would be refused.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.integration
def test_worker_answers_ping(celery_worker_proc):
    assert celery_worker_proc.alive()
    assert celery_worker_proc.ping(timeout=2)
    # The worker runs on the test database pytest-django created, not on the development one.
    from django.conf import settings

    assert settings.DATABASES["default"]["NAME"].startswith("test_")
    assert celery_worker_proc.database_url.endswith("/" + settings.DATABASES["default"]["NAME"])
    assert "ready" in celery_worker_proc.log_text()


def _group_members(pgid):
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry))
    return members


@pytest.mark.integration
def test_killed_worker_is_gone_and_restart_answers(celery_worker_proc):
    pgid = celery_worker_proc.pid
    assert len(_group_members(pgid)) >= 2, "expected the main process and its prefork child"
    celery_worker_proc.kill()
    assert not celery_worker_proc.alive()
    assert celery_worker_proc.proc.returncode == -signal.SIGKILL
    assert _group_members(pgid) == [], "pool children survived the kill"
    assert not celery_worker_proc.ping(timeout=1)

    celery_worker_proc.restart()
    assert celery_worker_proc.alive()
    assert celery_worker_proc.ping(timeout=2)


@pytest.mark.integration
def test_own_redis_stops_and_starts(own_redis):
    import redis

    client = redis.Redis.from_url(own_redis.url, socket_connect_timeout=1, socket_timeout=1)
    client.set("k", "v")
    own_redis.stop()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    own_redis.start()
    assert client.ping()
    assert client.get("k") is None  # nothing is kept across a restart
    client.close()


@pytest.mark.integration
def test_pg_restart_then_query(pg_restart):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()")
        (started_before,) = cursor.fetchone()
    pg_restart()
    close_old_connections()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()")
        (started_after,) = cursor.fetchone()
    assert started_after > started_before


@pytest.mark.browser
def test_chromium_renders_a_live_server_page(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            response = page.goto(f"{live_server.url}/admin/login/")
            assert response is not None
            assert response.status == 200
            assert page.locator("input[name=username]").count() == 1
        finally:
            browser.close()
