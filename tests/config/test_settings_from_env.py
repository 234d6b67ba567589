"""Settings come from the environment and refuse bad values loudly, at start-up, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import parse_database_url

ROOT = Path(__file__).resolve().parents[2]


def _start(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter, as a server process would at start-up."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_", "FA_"))}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


def test_it_starts_with_no_environment_at_all():
    result = _start({})
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _start({"DJANGO_ENV": "production"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_starts_with_a_secret_key():
    result = _start({"DJANGO_ENV": "production", "DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "a.example"})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://host:notaport/x"}, "port"),
        ({"DATABASE_URL": "postgres://host:5432/"}, "names no database"),
        ({"CELERY_BROKER_URL": "http://127.0.0.1:6379"}, "CELERY_BROKER_URL"),
        ({"CELERY_BROKER_URL": "redis://:abc/0"}, "CELERY_BROKER_URL"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
        ({"FA_UNIFORM_MIX": "lots"}, "FA_UNIFORM_MIX"),
        ({"FA_UNIFORM_MIX": "0.9"}, "FA_UNIFORM_MIX"),
        ({"FA_SCORE_WRITE_CHUNK": "0"}, "FA_SCORE_WRITE_CHUNK"),
        ({"FA_JOB_CLAIM_STALE_SECONDS": "0"}, "FA_JOB_CLAIM_STALE_SECONDS"),
        ({"FA_JOB_CLAIM_STALE_SECONDS": "a minute"}, "FA_JOB_CLAIM_STALE_SECONDS"),
        ({"DJANGO_ENV": "staging"}, "DJANGO_ENV"),
        ({"FA_UNIFORM_MIX": "nan"}, "FA_UNIFORM_MIX"),
        ({"FA_BROKER_CONNECT_TIMEOUT": "inf"}, "FA_BROKER_CONNECT_TIMEOUT"),
        ({"FA_CURRENCY": "EURO"}, "FA_CURRENCY"),
        ({"FA_CURRENCY": "XYZ"}, "FA_CURRENCY"),
        ({"FA_VISIBILITY_TIMEOUT": "300"}, "FA_VISIBILITY_TIMEOUT"),
        ({"FA_TASK_TIME_LIMIT": "900"}, "FA_VISIBILITY_TIMEOUT"),
        ({"FA_TASK_SOFT_TIME_LIMIT": "400"}, "FA_TASK_SOFT_TIME_LIMIT"),
        ({"FA_POOL_DEFAULT_METHOD": "median"}, "FA_POOL_DEFAULT_METHOD"),
        ({"FA_POOL_SKILL_MIN_COUNT": "0"}, "FA_POOL_SKILL_MIN_COUNT"),
    ],
)
def test_it_refuses_a_malformed_value(env, needle):
    result = _start(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert needle in result.stderr


def test_it_accepts_a_known_currency_in_any_case():
    result = _start({"FA_CURRENCY": "eur"})
    assert result.returncode == 0, result.stderr


def test_it_reads_a_postgres_url():
    db = parse_database_url("postgres://fa:s%40cret@db.internal:6432/forecasts?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "forecasts", "fa", "s@cret", "db.internal", "6432")
    assert db["OPTIONS"] == {"sslmode": "require"}
