"""The submission path under a rush: the pooled forecast is debounced, and the statements per request are pinned."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from forecasts import jobs, runs
from forecasts.api.serializers import PredictionSerializer
from forecasts.models import Aggregate, Job, Prediction
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SPECS = [{"type": "lognormal", "median": 10.0 ** (6 + i % 7), "sigma": 0.5 + 0.1 * (i % 5)} for i in range(100)]


@pytest.fixture
def sent_jobs(monkeypatch, settings):
    """A broker that records what was sent (job id, countdown) once each transaction commits, and runs nothing: as
    a worker busy elsewhere. The tests that use it commit for real (transaction=True), so on_commit runs."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    sent: list[tuple[int, float]] = []
    monkeypatch.setattr(jobs, "job_send", lambda job_id, countdown=0.0: sent.append((job_id, countdown)) or True)
    return sent


@pytest.mark.django_db(transaction=True)
def test_it_pools_a_rush_of_submissions_once_per_window_and_the_pool_is_the_mean_of_the_current_ones(
    client_for, open_question, sent_jobs, settings
):
    settings.FA_POOL_DEBOUNCE_SECONDS = 2.0
    authors = [UserFactory(username=f"rush{i}") for i in range(20)]
    for i, spec in enumerate(SPECS):  # 20 authors, 5 predictions each: only the last of each is current
        response = client_for(authors[i % 20]).post(f"/api/questions/{open_question.pk}/predictions/",
                                                    {"spec": spec}, format="json")
        assert response.status_code == 201, response.json()
    queued = Job.objects.filter(question=open_question, kind=Job.Kind.AGGREGATE)
    assert queued.count() <= 3
    assert [countdown for _, countdown in sent_jobs] == [2.0] * queued.count()

    for job in queued:
        runs.aggregate_refresh(job_id=job.pk)
    current = Prediction.objects.filter(question=open_question, is_current=True)
    assert current.count() == 20
    expected = np.mean(np.stack([np.frombuffer(bytes(p.cdf_bytes), dtype=np.float64) for p in current]), axis=0)
    pooled = Aggregate.objects.get(question=open_question, method="equal")
    assert pooled.n_predictions == 20
    np.testing.assert_allclose(pooled.cdf, expected, rtol=0, atol=1e-12)


@pytest.mark.django_db(transaction=True)
def test_it_queues_the_next_refresh_once_the_waiting_one_has_started(client_for, open_question, alice, bob,
                                                                      sent_jobs):
    url = f"/api/questions/{open_question.pk}/predictions/"
    assert client_for(alice).post(url, {"spec": SPECS[0]}, format="json").status_code == 201
    first = Job.objects.get(question=open_question, kind=Job.Kind.AGGREGATE)
    runs.aggregate_refresh(job_id=first.pk)
    assert client_for(bob).post(url, {"spec": SPECS[1]}, format="json").status_code == 201
    assert Job.objects.filter(question=open_question, kind=Job.Kind.AGGREGATE, state=Job.State.PENDING).count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_refreshes_the_pool_at_once_when_the_question_closes(client_for, open_question, alice, expert, sent_jobs):
    client_for(alice).post(f"/api/questions/{open_question.pk}/predictions/", {"spec": SPECS[0]}, format="json")
    client_for(expert).post(f"/api/questions/{open_question.pk}/close/")
    assert [countdown for _, countdown in sent_jobs] == [2.0, 0.0]


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_a_submission_takes_at_most_eleven_statements(open_question, alice, django_assert_max_num_queries):
    client = _token_client(alice)
    url = f"/api/questions/{open_question.pk}/predictions/"
    assert client.post(url, {"spec": SPECS[0]}, format="json").status_code == 201
    # A second submission retires the first (one UPDATE more); the pooled-forecast job is already waiting. The
    # token, the question with the author's lock (PostgreSQL), the cap, the UPDATE, the INSERT, the audit row, the
    # question's row lock, the log's head with the job check, the log's entry, and the transaction's begin and
    # commit.
    with django_assert_max_num_queries(11):
        response = client.post(url, {"spec": SPECS[1]}, format="json")
    assert response.status_code == 201
    assert response.json()["evidence"] == []


def test_a_prediction_is_shown_as_its_declared_fields_would_show_it(client_for, open_question, alice):
    """PredictionSerializer writes its representation by hand (the hot path); DRF's field-by-field one is the
    reference, for the response to a submission with evidence and for the prediction read back from the database."""
    ids = [client_for(alice).post(f"/api/questions/{open_question.pk}/evidence/", {"body": f"source {i}"},
                                  format="json").json()["id"] for i in range(2)]
    response = client_for(alice).post(f"/api/questions/{open_question.pk}/predictions/",
                                      {"spec": SPECS[3], "evidence": ids}, format="json")
    assert response.status_code == 201
    stored = Prediction.objects.get(pk=response.json()["id"])
    reference = serializers.ModelSerializer.to_representation(PredictionSerializer(), stored)
    assert PredictionSerializer(stored).data == reference
    assert response.json() == json.loads(JSONRenderer().render(reference))
    assert sorted(reference["evidence"]) == sorted(ids) and reference["author"] == alice.username


def test_an_evidence_post_takes_at_most_ten_statements(open_question, alice, django_assert_max_num_queries):
    client = _token_client(alice)
    url = f"/api/questions/{open_question.pk}/evidence/"
    assert client.post(url, {"body": "a first argument"}, format="json").status_code == 201
    # The token, the question under its row lock (read once: no visibility-filtered read before it), the author's
    # count, the INSERT, the log's head and entry, the audit row, the blind-weighting names for the response, and the
    # transaction's begin and commit.
    with django_assert_max_num_queries(10):
        response = client.post(url, {"body": "a second argument"}, format="json")
    assert response.status_code == 201


def test_the_question_get_takes_at_most_three_statements(open_question, alice, django_assert_max_num_queries):
    client = _token_client(alice)
    with django_assert_max_num_queries(3):
        assert client.get(f"/api/questions/{open_question.pk}/").status_code == 200
