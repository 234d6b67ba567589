"""PostgreSQL-only paths: the COPY score upsert, and closing due questions from two processes' worth of threads."""

from __future__ import annotations

import threading
from datetime import timedelta

import numpy as np
from django.db import connection, connections, transaction
from django.utils import timezone

from forecasts import runs, services
from forecasts.models import AuditEvent, Question, Score, Status
from tests.conftest import COMPUTE_QUESTION
from tests.integration.test_faults import (
    closed_question_with_predictions,
    expected_scores,
    posterior_without_sending,
)

COLUMNS = ("prediction_id", "author_id", "kl", "log_score", "skill", "crps", "wasserstein", "rank")


def score_rows(question: Question) -> list[tuple]:
    """Rows as question_score builds them, from the independent computation in the fault tests."""
    expected = expected_scores(question)
    authors = dict(question.predictions.filter(is_current=True).values_list("id", "author_id"))
    return [
        (int(pid), authors[int(pid)], *(float(expected[c][i]) for c in COLUMNS[2:7]), int(expected["rank"][i]))
        for i, pid in enumerate(expected["prediction_id"])
    ]


def as_columns(rows: list[tuple]) -> dict[str, np.ndarray]:
    """The writers take one array per column, as question_score hands them over."""
    dtypes = [np.int64, np.int64, *([np.float64] * 5), np.int64]
    return {name: np.array([r[i] for r in rows], dtype=dtypes[i]) for i, name in enumerate(COLUMNS)}


def stored(question: Question) -> list[tuple]:
    return list(Score.objects.filter(question=question).order_by("prediction_id").values_list(*COLUMNS))


def test_it_writes_the_same_score_rows_with_copy_as_with_bulk_create():
    assert connection.vendor == "postgresql"
    question = closed_question_with_predictions(1500, seed=7, tag="copy")
    posterior_without_sending(question)
    rows = score_rows(question)
    # Awkward floats: COPY must carry them bit for bit.
    rows[0] = (*rows[0][:2], 1e-310, -0.0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, rows[0][7])

    with transaction.atomic():
        runs._write_scores_postgres(question.pk, as_columns(rows))
    by_copy = stored(question)
    Score.objects.filter(question=question).delete()
    with transaction.atomic():
        runs._write_scores_generic(question.pk, as_columns(rows))
    by_bulk_create = stored(question)

    assert len(by_copy) == len(rows)
    assert by_copy == by_bulk_create == rows  # exact: floats compared bit for bit

    # Both are upserts: writing changed values over existing rows updates them in place, adds none.
    changed = [(*r[:2], r[2] + 1.0, *r[3:]) for r in rows]
    with transaction.atomic():
        runs._write_scores_postgres(question.pk, as_columns(changed[:700]))
        runs._write_scores_postgres(question.pk, as_columns(changed[700:]))
    assert stored(question) == changed


def test_it_scores_a_question_on_postgresql_like_the_independent_computation():
    question = closed_question_with_predictions(1200, seed=8, tag="inproc")
    job = posterior_without_sending(question)
    expected = expected_scores(question)
    assert runs.question_score(job_id=job.pk) == {"scored": 1200}
    got = np.array(stored(question), dtype=np.float64)
    np.testing.assert_array_equal(got[:, 0], expected["prediction_id"])
    np.testing.assert_allclose(got[:, 2], expected["kl"], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(got[:, 7], expected["rank"])


def test_it_closes_each_due_question_once_when_two_threads_race():
    from django.contrib.auth import get_user_model

    expert = get_user_model().objects.create_user(username="race-expert", password=None)
    questions = [
        services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=1),
                                 **{**COMPUTE_QUESTION, "title": f"race {i}"})
        for i in range(30)
    ]  # fmt: skip
    ids = [q.pk for q in questions]
    Question.objects.filter(pk__in=ids).update(status=Status.OPEN, closes_at=timezone.now() - timedelta(minutes=1))

    barrier = threading.Barrier(2, timeout=30)
    closed: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            closed.append(services.questions_close_due())
        except BaseException as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connections.close_all()  # each thread has its own connection; leave none open

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    assert sorted(closed) != [] and sum(closed) == len(ids), closed
    assert set(Question.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.CLOSED}
    events = AuditEvent.objects.filter(action="question.close", question_id__in=ids)
    assert sorted(events.values_list("question_id", flat=True)) == sorted(ids)  # exactly one each


def test_it_reads_current_predictions_oldest_first_as_the_generic_query_does():
    """PostgreSQL's read sorts client-side (runs.current_cdfs); the order must be the ORM's (created_at, then id),
    including equal times and times out of id order, with retired predictions left out."""
    assert connection.vendor == "postgresql"
    question = closed_question_with_predictions(40, seed=3, tag="order")
    rows = list(question.predictions.filter(is_current=True).order_by("id"))
    base = timezone.now() - timedelta(days=1)
    for i, prediction in enumerate(rows):
        # Reverse order of ids, in groups of three sharing a microsecond (ties broken by id).
        prediction.created_at = base - timedelta(microseconds=(len(rows) - i) // 3)
    type(rows[0]).objects.bulk_update(rows, ["created_at"])
    question.predictions.filter(pk=rows[5].pk).update(is_current=False)

    ids, authors, cdfs = runs.current_cdfs(question.pk)

    expected = list(question.predictions.filter(is_current=True).order_by("created_at", "id")
                    .values_list("id", "author_id", "cdf_bytes"))
    assert ids.tolist() == [e[0] for e in expected]
    assert authors.tolist() == [e[1] for e in expected]
    assert cdfs.tobytes() == b"".join(bytes(e[2]) for e in expected)
    assert rows[5].pk not in ids.tolist()


def test_the_published_posterior_is_told_to_predictors_with_their_rank_and_to_commenters_in_one_insert():
    """PostgreSQL's one INSERT .. SELECT (notifications.notify_scores): every predictor once, with rank and KL from
    their Score row; a commenter who did not predict once, without; the expert, who also commented, never."""
    from forecasts.models import Notification, NotificationKind

    question = closed_question_with_predictions(30, seed=5, tag="told")
    predictors = list(question.predictions.values_list("author_id", flat=True))
    commenter = type(question.expert).objects.create_user(username="told-commenter", password=None)
    Evidence = question.evidence.model
    Evidence.objects.create(question=question, author=commenter, body="read this")
    Evidence.objects.create(question=question, author=question.expert, body="noted")
    Evidence.objects.create(question=question, author_id=predictors[0], body="and this")  # predicted and commented
    job = posterior_without_sending(question)
    runs.question_score(job_id=job.pk)

    told = {user: data for user, data in Notification.objects.filter(
        question=question, kind=NotificationKind.POSTERIOR_PUBLISHED).values_list("user_id", "data")}
    assert Notification.objects.filter(question=question, kind=NotificationKind.POSTERIOR_PUBLISHED).count() == 31
    assert set(told) == set(predictors) | {commenter.pk}
    assert told[commenter.pk] == {}
    scores = dict(Score.objects.filter(question=question).values_list("author_id", "rank"))
    assert all(told[a]["rank"] == scores[a] and told[a]["of"] == 30 for a in predictors)
