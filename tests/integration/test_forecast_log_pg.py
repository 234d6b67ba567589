"""The forecast log under concurrent writers on PostgreSQL: 20 commenters submit at the same moment, each in its own
thread and database connection, and the log is still one unbroken chain in commit order (no fork, no gap)."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework.fields import DateTimeField

from forecasts import services
from forecasts.models import LogEntry, Prediction
from tests.conftest import COMPUTE_QUESTION, PRIOR_SPEC

User = get_user_model()
N = 20


def _open_question(prefix: str):
    expert = User.objects.create_user(username=f"{prefix}-expert", password="pass-word-123")
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=1),
                                        **COMPUTE_QUESTION)
    services.prior_set(question=question, user=expert, spec=PRIOR_SPEC)
    services.question_open(question=question, user=expert)
    return question


def _all_at_once(n: int, work) -> None:
    """Run work(0) ... work(n - 1) in n threads released together, each on its own database connection, and fail
    with every exception the threads met."""
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def _spec(i: int) -> dict:
    return {"type": "lognormal", "median": 1e8 * (i + 1), "sigma": 2.0}


def test_it_keeps_one_unbroken_chain_under_20_simultaneous_predictions_forecast_log():
    question = _open_question("race")
    users = [User.objects.create_user(username=f"racer-{i:02d}", password="pass-word-123") for i in range(N)]
    _all_at_once(N, lambda i: services.prediction_submit(question=question, author=users[i], spec=_spec(i)))

    entries = list(LogEntry.objects.filter(question=question).order_by("seq"))
    assert [e.seq for e in entries] == list(range(N + 1))  # the prior, then 20 predictions, no gap
    assert [e.kind for e in entries] == ["prior"] + ["prediction"] * N
    # Commit order: each append runs under the question's lock, held to the commit, so seq is the order in which the
    # submissions committed. A prediction's row (its id and created_at) is written just before that lock is taken
    # (the lean submission path, issue #15), so ids and times need not follow seq; every prediction is there once.
    predictions = {p.pk: p for p in Prediction.objects.filter(question=question).select_related("author")}
    ids = [e.object_id for e in entries[1:]]
    assert len(ids) == len(set(ids)) and set(ids) == set(predictions)

    previous = "0" * 64
    render = DateTimeField().to_representation
    for entry in entries:
        if entry.kind == "prediction":
            row = predictions[entry.object_id]
            body = {"kind": "prediction", "id": row.pk, "author": row.author.username,
                    "created_at": render(row.created_at), "content": row.spec}
            digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False).encode("utf-8")).hexdigest()
            assert entry.digest == digest
        assert entry.chain == hashlib.sha256((previous + entry.digest).encode("utf-8")).hexdigest()
        previous = entry.chain


def test_one_author_submitting_eight_times_at_once_keeps_one_current_prediction():
    """The (question, author) advisory lock, taken with the question's read: eight submissions by one author at the
    same moment all succeed, in turn, each retiring the one before. Without the lock two of them would both find the
    same current row and the second INSERT would break the one-current-per-author constraint."""
    question = _open_question("same")
    author = User.objects.create_user(username="same-author", password="pass-word-123")
    n = 8
    _all_at_once(n, lambda i: services.prediction_submit(question=question.pk, author=author, spec=_spec(i)))
    rows = Prediction.objects.filter(question=question, author=author)
    assert rows.count() == n and rows.filter(is_current=True).count() == 1
    # The current one is the last to commit: the log's last entry.
    last = LogEntry.objects.filter(question=question).order_by("-seq").first()
    assert rows.get(is_current=True).pk == last.object_id
