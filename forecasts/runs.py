"""Engine runs on stored rows: load them as arrays, run the engine, write the results back.

This is the one place where stored rows turn into numpy arrays and back. The job bodies here are what the Celery
tasks in forecasts/tasks.py call; each is idempotent: results are written with upserts keyed on what they describe (the
prediction for a score, the question for an aggregate), so a re-run after a crash leaves the same rows.
"""

from __future__ import annotations

import io
import logging

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from amplification.grid import N_POINTS
from amplification.outcomes import peer_scores, place_outcome, score_outcome
from amplification.pooling import POOL_METHODS, pool, skill_pool_weights
from amplification.scoring import score_predictions
from amplification.ties import competition_ranks

from .audit import audit
from .jobs import job_claim, job_finish, job_progress
from .models import (
    Aggregate,
    Job,
    Outcome,
    OutcomeScore,
    Posterior,
    Prediction,
    Prior,
    Question,
    Score,
    Status,
)
from .notifications import notify_scores
from .records import skill_records
from .services import question_locked
from .stored import distribution_fields, fields_from_cdf

log = logging.getLogger(__name__)


def current_cdfs(question_id: int, *, lead: tuple[np.ndarray, ...] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prediction ids, author ids, (len(lead) + n, 201) CDFs) of the current predictions, in one query, oldest first
    (by created_at, then id: the `recency` pool reads the rows in this order).

    `lead`: CDFs to stack above the predictions' rows (the outcome job scores the prior, posterior and pool in the same
    engine pass); they are joined with the rows' bytes, so the stack costs no second copy of 100,000 rows.
    """
    table = Prediction._meta.db_table
    micros = None  # PostgreSQL's sort key, created_at in microseconds
    with connection.cursor() as cursor:
        # A plain cursor, not the ORM: 100,000 rows of 1.6 KB come back without building model tuples.
        if connection.vendor == "postgresql":
            # Unordered, with the sort key beside each row, and sorted here: ORDER BY in the query made PostgreSQL
            # sort the 160 MB of rows themselves (an external merge sort on disk at the default work_mem), which
            # cost more than the read.
            cursor.execute(
                f"SELECT id, author_id, cdf_bytes, (EXTRACT(EPOCH FROM created_at) * 1000000)::bigint FROM {table}"
                " WHERE question_id = %s AND is_current",
                [question_id],
            )
            rows = cursor.fetchall()
            micros = np.fromiter((r[3] for r in rows), dtype=np.int64, count=len(rows))
        else:
            cursor.execute(
                f"SELECT id, author_id, cdf_bytes FROM {table} WHERE question_id = %s AND is_current"
                " ORDER BY created_at, id",
                [question_id],
            )
            rows = cursor.fetchall()
    head = [np.ascontiguousarray(cdf, dtype=np.float64).tobytes() for cdf in lead]
    if not rows:
        stacked = np.frombuffer(b"".join(head), dtype=np.float64).reshape(len(head), N_POINTS)
        return np.empty(0, np.int64), np.empty(0, np.int64), stacked
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    authors = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    order = np.lexsort((ids, micros)) if micros is not None else np.arange(len(rows))
    joined = b"".join(head + [rows[i][2] for i in order])
    cdfs = np.frombuffer(joined, dtype=np.float64).reshape(len(head) + len(rows), N_POINTS)
    ids, authors = ids[order], authors[order]
    return ids, authors, cdfs


def _rank(kl: np.ndarray) -> np.ndarray:
    """Competition ranking (1, 2, 2, 4) by KL, lowest first. KLs within a tie tolerance of their group's lowest
    share a rank (amplification/ties.py: the same distribution entered two ways differs only by float noise)."""
    return competition_ranks(kl)


# The columns of a Score row that the scoring job writes: their SQL type, and numpy's spelling of the same type in
# PostgreSQL's binary COPY format (big-endian).
SCORE_COLUMNS = {
    "prediction_id": ("bigint", ">i8"), "author_id": ("bigint", ">i8"), "kl": ("float8", ">f8"),
    "log_score": ("float8", ">f8"), "skill": ("float8", ">f8"), "crps": ("float8", ">f8"),
    "wasserstein": ("float8", ">f8"), "rank": ("integer", ">i4"),
}
SCORE_VALUES = ["kl", "log_score", "skill", "crps", "wasserstein", "rank"]  # what a re-run overwrites
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TRAILER = b"\xff\xff"


def _copy_row_dtype(spec: dict[str, tuple[str, str]]) -> np.dtype:
    """One row of PostgreSQL's binary COPY format: a field count, then each field as (length, value). Building the
    whole buffer is a few numpy assignments, and float8 travels bit for bit (no text round trip)."""
    return np.dtype(
        [("nfields", ">i2")]
        + [field for i, (name, (_, binary)) in enumerate(spec.items())
           for field in ((f"len{i}", ">i4"), (name, binary))]
    )


def _copy_buffer(spec: dict[str, tuple[str, str]], columns: dict[str, np.ndarray]) -> io.BytesIO:
    row = _copy_row_dtype(spec)
    data = np.empty(len(next(iter(columns.values()))), dtype=row)
    data["nfields"] = len(spec)
    for i, name in enumerate(spec):
        data[f"len{i}"] = row[name].itemsize
        data[name] = columns[name]
    return io.BytesIO(_COPY_HEADER + data.tobytes() + _COPY_TRAILER)


def _upsert_postgres(*, table: str, spec: dict[str, tuple[str, str]], columns: dict[str, np.ndarray],
                     constants: dict[str, object], conflict: list[str], updates: list[str]) -> None:
    """COPY (binary) into a temporary table, then one INSERT .. ON CONFLICT: ~10x faster than row-by-row upserts.
    `constants` are the columns every row shares (the question), sent once as parameters."""
    buffer = _copy_buffer(spec, columns)
    with connection.cursor() as cursor:
        # Derived rows can always be recomputed, so a chunk's commit need not wait for its WAL flush (~0.07 s a chunk
        # of 10,000 here). WAL is flushed in order: once job_finish commits (synchronously), every chunk before it is
        # durable too; a crash before that leaves the job unfinished, and it is run again.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        types = ", ".join(f"{name} {sql}" for name, (sql, _) in spec.items())
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS copy_load ({types}) ON COMMIT DROP")
        cursor.cursor.copy_expert("COPY copy_load FROM STDIN WITH (FORMAT binary)", buffer)
        names = ", ".join(spec)
        fixed = ", ".join(constants)
        placeholders = ", ".join(["%s"] * len(constants))
        sets = ", ".join(f"{name} = EXCLUDED.{name}" for name in updates)
        cursor.execute(
            f"INSERT INTO {table} ({fixed}, {names}) SELECT {placeholders}, {names} FROM copy_load"
            f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {sets}",
            list(constants.values()),
        )
        cursor.execute("DROP TABLE copy_load")


def _write_scores_postgres(question_id: int, columns: dict[str, np.ndarray]) -> None:
    _upsert_postgres(table=Score._meta.db_table, spec=SCORE_COLUMNS, columns=columns,
                     constants={"question_id": question_id}, conflict=["prediction_id"], updates=SCORE_VALUES)


def _write_scores_generic(question_id: int, columns: dict[str, np.ndarray]) -> None:
    rows = zip(*(columns[name].tolist() for name in SCORE_COLUMNS), strict=True)
    Score.objects.bulk_create(
        [Score(question_id=question_id, **dict(zip(SCORE_COLUMNS, row, strict=True))) for row in rows],
        update_conflicts=True,
        unique_fields=["prediction"],
        update_fields=SCORE_VALUES,
        batch_size=2000,
    )


def question_score(*, job_id: int) -> dict | None:
    """Score every current prediction of the job's question against the posterior, and refresh the aggregate."""
    if not job_claim(job_id):
        return None  # done or failed already (a job running in a live worker raises JobBusy instead)
    job = Job.objects.select_related("question").get(pk=job_id)
    question = job.question
    if question.status == Status.AWARDED:
        # Scores are frozen once prizes are awarded; a late duplicate delivery changes nothing.
        job_finish(job_id, result={"skipped": "question already awarded"})
        return None
    posterior = Posterior.objects.get(question=question)
    prior = Prior.objects.get(question=question)
    ids, authors, cdfs = current_cdfs(question.pk)
    n = len(ids)
    job_progress(job_id, done=0, total=n)

    scores = score_predictions(
        cdfs, posterior.cdf, prior.cdf, open_lower=question.open_lower, open_upper=question.open_upper,
        uniform_mix=settings.FA_UNIFORM_MIX,
    )
    columns = {"prediction_id": ids, "author_id": authors, "kl": scores.kl, "log_score": scores.log_score,
               "skill": scores.skill, "crps": scores.crps, "wasserstein": scores.wasserstein,
               "rank": _rank(scores.kl)}
    write = _write_scores_postgres if connection.vendor == "postgresql" else _write_scores_generic
    # Scores are written in chunks so progress shows and a killed worker loses at most one chunk of work.
    chunk = settings.FA_SCORE_WRITE_CHUNK
    for start in range(0, n, chunk):
        with transaction.atomic():
            write(question.pk, {name: column[start : start + chunk] for name, column in columns.items()})
        job_progress(job_id, done=min(n, start + chunk), total=n)
    # A prediction that stopped being current keeps no stale score. None can after close, but a re-run after a
    # restore from backup could meet one.
    Score.objects.filter(question=question, prediction__is_current=False).delete()

    aggregate_store(question=question, ids=ids, authors=authors, cdfs=cdfs, posterior=posterior, prior=prior)
    now = timezone.now()
    with transaction.atomic():
        if Question.objects.filter(pk=question.pk, status=Status.RESOLVED).update(status=Status.SCORED, scored_at=now):
            audit(action="scores.compute", question=question, job=job_id, predictions=n)
            # In the transaction that marks the question scored, so a re-run or a duplicate delivery (which finds
            # it scored) writes none again.
            notify_scores(question, n)
        job_finish(job_id, result={"scored": n})
    return {"scored": n}


def aggregate_store(*, question: Question, ids, authors, cdfs: np.ndarray, posterior=None,
                    prior=None) -> dict[str, Aggregate]:
    """The amplified forecast by every method in POOL_METHODS, and each pool's scores against the posterior once it
    exists: one Aggregate row per (question, method). `cdfs` are the current predictions, oldest first (see
    current_cdfs), `authors` their authors' ids.

    All four are computed here, in the job that runs after every batch of submissions and at close, rather than on
    read: a read would pool every current prediction four times over (the quantile pool alone is a pass over all of
    them) and look up every author's track record, while the job does it once per change.
    """
    if len(ids) == 0:
        Aggregate.objects.filter(question=question).delete()
        return {}
    mean_skill, counts = skill_records(question=question, authors=authors)
    weights = skill_pool_weights(mean_skill, counts, min_count=settings.FA_POOL_SKILL_MIN_COUNT)
    pools = {method: pool(method, cdfs, weights=weights if method == "skill" else None) for method in POOL_METHODS}
    fields = {method: fields_from_cdf(pooled, question.domain, spec={"type": "cdf", "cdf": pooled.tolist()})
              for method, pooled in pools.items()}
    stored: dict[str, Aggregate] = {}
    with transaction.atomic():
        # Under the question's row lock, the posterior is read where the rows are written: a refresh that raced the
        # scoring job (it read "no posterior", then wrote after the scoring job had stored the scores) would
        # otherwise leave the pooled forecasts without scores for good.
        question_locked(question)
        posterior = posterior if posterior is not None else Posterior.objects.filter(question=question).first()
        prior = prior if prior is not None else Prior.objects.filter(question=question).first()
        scored = None
        if posterior is not None and prior is not None:
            scored = score_predictions(
                np.stack(list(pools.values())), posterior.cdf, prior.cdf, open_lower=question.open_lower,
                open_upper=question.open_upper, uniform_mix=settings.FA_UNIFORM_MIX,
            )
        now = timezone.now()
        for i, method in enumerate(pools):
            agg_scores = None
            if scored is not None:
                agg_scores = {"kl": float(scored.kl[i]), "log_score": float(scored.log_score[i]),
                              "skill": float(scored.skill[i]), "crps": float(scored.crps[i]),
                              "wasserstein": float(scored.wasserstein[i])}
            stored[method], _ = Aggregate.objects.update_or_create(
                question=question, method=method,
                defaults={**fields[method], "n_predictions": len(ids), "scores": agg_scores, "updated_at": now},
            )
        Aggregate.objects.filter(question=question).exclude(method__in=POOL_METHODS).delete()
    return stored


def aggregate_refresh(*, job_id: int) -> dict | None:
    if not job_claim(job_id):
        return None
    job = Job.objects.select_related("question").get(pk=job_id)
    # A barrier, not a hold: a submission that saw this job waiting (before the claim above) holds the question's
    # lock until it commits, so taking the lock once here means every such prediction is committed before the read.
    # Submissions after the claim see no waiting job and queue the next refresh.
    with transaction.atomic():
        question_locked(job.question_id)
    ids, authors, cdfs = current_cdfs(job.question_id)
    job_progress(job_id, done=0, total=len(ids))
    aggregate_store(question=job.question, ids=ids, authors=authors, cdfs=cdfs)
    job_finish(job_id, result={"pooled": len(ids)})
    return {"pooled": len(ids)}


# The columns of an OutcomeScore row that the outcome job writes for the predictions (see SCORE_COLUMNS).
OUTCOME_SCORE_COLUMNS = {
    "prediction_id": ("bigint", ">i8"), "author_id": ("bigint", ">i8"), "log_score": ("float8", ">f8"),
    "baseline": ("float8", ">f8"), "peer": ("float8", ">f8"), "crps": ("float8", ">f8"),
}
OUTCOME_SCORE_VALUES = ["author_id", "log_score", "baseline", "peer", "crps"]


def _write_outcome_scores_postgres(question_id: int, columns: dict[str, np.ndarray]) -> None:
    _upsert_postgres(
        table=OutcomeScore._meta.db_table, spec=OUTCOME_SCORE_COLUMNS, columns=columns,
        constants={"question_id": question_id, "forecast": str(OutcomeScore.Forecast.PREDICTION)},
        conflict=["question_id", "forecast", "prediction_id"], updates=OUTCOME_SCORE_VALUES,
    )


def _write_outcome_scores_generic(question_id: int, columns: dict[str, np.ndarray]) -> None:
    rows = zip(*(columns[name].tolist() for name in OUTCOME_SCORE_COLUMNS), strict=True)
    OutcomeScore.objects.bulk_create(
        [OutcomeScore(question_id=question_id, forecast=OutcomeScore.Forecast.PREDICTION,
                      **dict(zip(OUTCOME_SCORE_COLUMNS, row, strict=True))) for row in rows],
        update_conflicts=True,
        unique_fields=["question", "forecast", "prediction"],
        update_fields=OUTCOME_SCORE_VALUES,
        batch_size=2000,
    )


def outcome_score(*, job_id: int) -> dict | None:
    """Score the prior, the posterior (if published), the pooled forecast (if any) and every prediction current at
    close against the recorded outcome, in one engine pass over one stacked array; peer scores over the predictions.

    Idempotent: the prior, posterior and pool rows are upserted on (question, forecast), the predictions' rows on
    (question, forecast, prediction), so a second run or a duplicate delivery leaves the same rows.
    """
    if not job_claim(job_id):
        return None
    job = Job.objects.select_related("question").get(pk=job_id)
    question = job.question
    outcome = Outcome.objects.filter(question=question).first()
    if outcome is None or outcome.bucket is None:
        job_finish(job_id, result={"skipped": "no outcome to score against (annulled)"})
        return None
    placed = place_outcome(outcome.value, question.domain)
    summary = {
        OutcomeScore.Forecast.PRIOR: Prior.objects.filter(question=question).first(),
        OutcomeScore.Forecast.POSTERIOR: Posterior.objects.filter(question=question).first(),
        OutcomeScore.Forecast.POOL: question.aggregate,  # the organizer-facing default method's pool
    }
    present = [(forecast, row) for forecast, row in summary.items() if row is not None]
    ids, authors, stacked = current_cdfs(question.pk, lead=tuple(row.cdf for _, row in present))
    k, n = len(present), len(ids)
    job_progress(job_id, done=0, total=k + n)

    scores = score_outcome(stacked, bucket=placed.bucket, u=placed.u, open_lower=question.open_lower,
                           open_upper=question.open_upper)
    with transaction.atomic():
        for i, (forecast, _) in enumerate(present):
            OutcomeScore.objects.update_or_create(
                question=question, forecast=forecast, prediction=None,
                defaults={"author": None, "log_score": float(scores.log_score[i]),
                          "baseline": float(scores.baseline[i]), "peer": None, "crps": float(scores.crps[i])},
            )
        # A forecast that is gone (no pool any more) keeps no stale row.
        missing = [forecast for forecast, row in summary.items() if row is None]
        OutcomeScore.objects.filter(question=question, forecast__in=missing).delete()
    columns = {"prediction_id": ids, "author_id": authors, "log_score": scores.log_score[k:],
               "baseline": scores.baseline[k:], "peer": peer_scores(scores.p_outcome[k:]), "crps": scores.crps[k:]}
    write = _write_outcome_scores_postgres if connection.vendor == "postgresql" else _write_outcome_scores_generic
    chunk = settings.FA_SCORE_WRITE_CHUNK
    for start in range(0, n, chunk):
        with transaction.atomic():
            write(question.pk, {name: column[start : start + chunk] for name, column in columns.items()})
        job_progress(job_id, done=k + min(n, start + chunk), total=k + n)
    OutcomeScore.objects.filter(question=question, forecast=OutcomeScore.Forecast.PREDICTION,
                                prediction__is_current=False).delete()
    with transaction.atomic():
        audit(action="outcome.score", question=question, job=job_id, forecasts=k + n)
        job_finish(job_id, result={"scored": k + n})
    return {"scored": k + n}


def prior_fit(*, job_id: int) -> dict | None:
    """Recompute the stored prior's canonical form from its spec (after an engine upgrade, or an import)."""
    if not job_claim(job_id):
        return None
    job = Job.objects.select_related("question").get(pk=job_id)
    prior = Prior.objects.get(question=job.question)
    fields = distribution_fields(spec=prior.spec, domain=job.question.domain)
    Prior.objects.filter(pk=prior.pk).update(**fields)
    job_finish(job_id, result={"fitted": 1})
    return {"fitted": 1}
