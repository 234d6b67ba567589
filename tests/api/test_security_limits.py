"""Bounded output and input: capped pages, per-user caps, finite influence sums, hidden job counts, no drafts in
competitions, and the production deploy check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forecasts import services
from forecasts.models import Job
from tests.conftest import POSTERIOR_SPEC

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_a_huge_limit_is_capped(client_for, alice, open_question, settings):
    settings.FA_MAX_PAGE = 2
    for i in range(3):
        services.evidence_post(question=open_question, author=alice, body=f"point {i}")
    response = client_for(alice).get(f"/api/questions/{open_question.pk}/evidence/?limit=100000000")
    assert response.status_code == 200
    assert len(response.json()) == 2  # a bare list, as before, one capped page of it
    assert response["X-Total-Count"] == "3"
    assert 'rel="next"' in response["Link"]
    questions = client_for(alice).get("/api/questions/?limit=100000000").json()
    assert questions["count"] >= 1 and len(questions["results"]) <= 2


def test_the_predictions_list_is_capped_too(client_for, alice, open_question, settings):
    settings.FA_MAX_PAGE = 1
    for _ in range(2):
        services.prediction_submit(question=open_question, author=alice, spec=POSTERIOR_SPEC)
    response = client_for(alice).get(f"/api/questions/{open_question.pk}/predictions/?limit=100000000")
    assert len(response.json()) == 1
    assert response["X-Total-Count"] == "2"


def test_evidence_per_user_is_capped_naming_the_cap(client_for, alice, open_question, settings):
    settings.FA_MAX_EVIDENCE_PER_USER = 2
    url = f"/api/questions/{open_question.pk}/evidence/"
    codes = [client_for(alice).post(url, {"body": f"b{i}"}, format="json").status_code for i in range(2)]
    refused = client_for(alice).post(url, {"body": "one more"}, format="json")
    assert codes == [201, 201]
    assert refused.status_code == 400
    assert "FA_MAX_EVIDENCE_PER_USER" in refused.json()["body"][0]


def test_prediction_history_per_user_is_capped_naming_the_cap(client_for, alice, open_question, settings):
    settings.FA_MAX_PREDICTIONS_PER_USER = 1
    url = f"/api/questions/{open_question.pk}/predictions/"
    assert client_for(alice).post(url, {"spec": POSTERIOR_SPEC}, format="json").status_code == 201
    refused = client_for(alice).post(url, {"spec": POSTERIOR_SPEC}, format="json")
    assert refused.status_code == 400
    assert "FA_MAX_PREDICTIONS_PER_USER" in refused.json()["spec"][0]


def test_influence_weights_whose_sum_is_infinite_are_refused(client_for, expert, alice, bob, open_question):
    a = services.evidence_post(question=open_question, author=alice, body="a")
    b = services.evidence_post(question=open_question, author=bob, body="b")
    services.question_close(question=open_question, user=expert)
    response = client_for(expert).put(f"/api/questions/{open_question.pk}/posterior/", {
        "spec": POSTERIOR_SPEC, "influence": [{"evidence": a.pk, "weight": 1e308}, {"evidence": b.pk, "weight": 1e308}],
    }, format="json")
    assert response.status_code == 400
    assert "influence" in response.json()


def test_an_aggregate_jobs_counts_are_hidden_with_the_crowd(client_for, alice, bob, open_question):
    services.prediction_submit(question=open_question, author=alice, spec=POSTERIOR_SPEC)
    job = Job.objects.filter(question=open_question, kind=Job.Kind.AGGREGATE).first()
    assert job is not None
    Job.objects.filter(pk=job.pk).update(total=7, done=7)
    body = client_for(bob).get(f"/api/jobs/{job.pk}/").json()
    assert body["total"] is None and body["created_at"] is None


def test_the_409_for_a_closed_question_reads_well(client_for, expert, alice, open_question):
    services.question_close(question=open_question, user=expert)
    detail = client_for(alice).post(f"/api/questions/{open_question.pk}/evidence/", {"body": "late"},
                                    format="json").json()["detail"]
    assert "while while" not in detail
    assert detail.startswith("cannot post evidence or predictions while the question is closed")


def test_a_competition_refuses_a_draft_question(client_for, organizer, draft_question):
    response = client_for(organizer).post("/api/competitions/", {"name": "c", "questions": [draft_question.pk],
                                                                 "pool": "10.00"}, format="json")
    assert response.status_code == 400
    assert "questions" in response.json()


DEPLOY_ENV = {
    "DJANGO_ENV": "production", "DJANGO_SECRET_KEY": "Zq7-vB2_mK9xLw4pR8tY1nH6sJ3dF5gA0cE-uI7oP2qW9eT4rY6uI8oP",
    "DJANGO_ALLOWED_HOSTS": "forecasts.example",
    "DJANGO_PROXY_SSL_HEADER": "X-Forwarded-Proto", "DJANGO_CSRF_TRUSTED_ORIGINS": "https://forecasts.example",
}


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_", "FA_"))}
    return subprocess.run([sys.executable, "manage.py", *args], env={**clean, **env}, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_check_deploy_reports_no_warnings_with_the_documented_production_settings():
    result = _manage(DEPLOY_ENV, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_a_short_secret_key():
    result = _manage({**DEPLOY_ENV, "DJANGO_SECRET_KEY": "x" * 49}, "check")
    assert result.returncode != 0
    assert "at least 50" in result.stderr
