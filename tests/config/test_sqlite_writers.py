"""The local mode (SQLite, tasks in-process) takes simultaneous writes: runserver serves each request in a thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Twelve commenters submit at the same moment, each in a thread with its own connection, as runserver's threads do;
# each submission also refreshes the pooled forecast in-process (another write).
SCRIPT = r"""
import json, threading
from datetime import timedelta

import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

call_command("migrate", verbosity=0)
from forecasts import demo, services
from forecasts.models import Prediction

User = get_user_model()
expert = User.objects.create_user("expert", password="pass-word-123")
question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=7),
                                    **demo.SCENARIOS[0].question)
services.prior_set(question=question, user=expert, spec=demo.COMPUTE_PRIOR)
services.question_open(question=question, user=expert)
users = [User.objects.create_user(f"c{i}", password="pass-word-123") for i in range(12)]
connection.close()

start = threading.Barrier(len(users))
errors = []

def submit(user):
    start.wait()
    try:
        services.prediction_submit(question=question, author=user,
                                   spec={"type": "lognormal", "median": 1e9, "sigma": 2.0})
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connection.close()

threads = [threading.Thread(target=submit, args=(u,)) for u in users]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"errors": errors, "current": Prediction.objects.filter(is_current=True).count()}))
"""


def test_simultaneous_submissions_on_sqlite_all_succeed(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_", "FA_"))}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"},
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"errors": [], "current": 12}
