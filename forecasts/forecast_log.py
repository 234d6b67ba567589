"""The forecast log: each question's priors, evidence, predictions and posterior as a hash chain (docs/forecast-log.md).

digest = SHA-256 hex of the canonical JSON of {"kind", "id", "author", "created_at", "content"}; chain = SHA-256 hex of
the previous chain followed by the digest (64 zeros before the first entry). `created_at` is the exact string the API
shows for the object, so anyone can recompute every digest from the public API alone.

Callers append inside the transaction that stores the object and while holding the question's row lock
(services.question_locked): appends to one question are then serialised, and `seq` has no gaps and no forks.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, Subquery
from rest_framework import serializers

from .models import Evidence, LogEntry, Posterior, Prediction, Prior, Question
from .rows import insert_row

GENESIS = "0" * 64
_AS_API_SHOWS = serializers.DateTimeField()


def api_datetime(value: datetime) -> str:
    """A datetime exactly as the API renders it (DRF's DateTimeField: ISO 8601 in the current zone, UTC as "Z")."""
    return _AS_API_SHOWS.to_representation(value)


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry_digest(*, kind: str, object_id: int, author: str, created_at: str, content: Any) -> str:
    return sha256_hex(canonical({"kind": kind, "id": object_id, "author": author, "created_at": created_at,
                                 "content": content}))


def chain_next(previous: str, digest: str) -> str:
    return sha256_hex((previous + digest).encode("ascii"))


def head_sql(question_param: str = "%s") -> str:
    """SQL for the log's last (seq, chain) as two scalar subqueries, NULLs for an empty log: for a caller that reads
    it in one statement with other things under the question's lock (services.prediction_submit)."""
    table = LogEntry._meta.db_table
    last = f"FROM {table} WHERE question_id = {question_param} ORDER BY seq DESC LIMIT 1"
    return f"(SELECT seq {last}), (SELECT chain {last})"


def _append(question: Question, *, kind: str, object_id: int, author: str, created_at: datetime,
            content: Any, head: tuple[int | None, str | None] | None = None) -> int:
    """`head`: the log's last (seq, chain), or (None, None) when it is empty, if the caller read it under the lock
    already; otherwise it is read here. Returns the new entry's id."""
    if head is None:
        last = LogEntry.objects.filter(question_id=question.pk).order_by("-seq").values_list("seq", "chain").first()
        head = last if last else (None, None)
    seq, previous = (head[0] + 1, str(head[1])) if head[0] is not None else (0, GENESIS)
    at = api_datetime(created_at)
    digest = entry_digest(kind=kind, object_id=object_id, author=author, created_at=at, content=content)
    return insert_row(
        LogEntry, question_id=question.pk, seq=seq, kind=kind, object_id=object_id, author=author, created_at=at,
        content=content if kind == LogEntry.Kind.PRIOR else None, digest=digest, chain=chain_next(previous, digest),
    )


def log_prior(question: Question, prior: Prior) -> int:
    # A prior has no created_at: each version is stamped with `updated_at`, which GET .../prior/ shows.
    return _append(question, kind=LogEntry.Kind.PRIOR, object_id=prior.pk, author=question.expert.get_username(),
                   created_at=prior.updated_at, content=prior.spec)


def log_evidence(question: Question, evidence: Evidence) -> int:
    return _append(question, kind=LogEntry.Kind.EVIDENCE, object_id=evidence.pk,
                   author=evidence.author.get_username(), created_at=evidence.created_at, content=evidence.body)


def log_prediction(question: Question, prediction: Prediction, *,
                   head: tuple[int | None, str | None] | None = None) -> int:
    return _append(question, kind=LogEntry.Kind.PREDICTION, object_id=prediction.pk,
                   author=prediction.author.get_username(), created_at=prediction.created_at, content=prediction.spec,
                   head=head)


def log_posterior(question: Question, posterior: Posterior) -> int:
    # The posterior's time is `published_at`, which GET .../posterior/ shows.
    return _append(question, kind=LogEntry.Kind.POSTERIOR, object_id=posterior.pk,
                   author=question.expert.get_username(), created_at=posterior.published_at, content=posterior.spec)


def head_subquery() -> Subquery:
    """The last chain value of the outer question's log, for the update that closes it (null for an empty log)."""
    return Subquery(LogEntry.objects.filter(question_id=OuterRef("pk")).order_by("-seq").values("chain")[:1])
