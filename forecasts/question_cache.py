"""The cached reads of one question (its API JSON, its page for anonymous readers), and their invalidation.

Each question has a version token in the cache; every cached view of it is stored under a key carrying that token.
A write that changes anything a cached view shows calls `question_changed` inside its transaction (the services
do it where they take the question's row lock, services.question_locked; jobs.job_finish does it for the jobs'
results), and the token is replaced then and once more when the transaction commits. A prediction changes nothing
either view shows (the crowd is hidden until the posterior), so the submission path takes the lock without it
(services.question_lock_status). A reader takes the token
before it reads the database, so a view read just before a write is stored under the old token and never served
after the write's commit.

Only views that are the same for every viewer who may see them are cached: the question's JSON (the same for
everyone once it is out of draft; drafts are never cached) and the page as an anonymous reader without a session
sees it. Entries also expire after FA_QUESTION_CACHE_SECONDS, a bound for writes made outside the services (the
admin).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

_VERSION = "fa:qv:{}"


def _new_token() -> str:
    return uuid.uuid4().hex[:16]


def question_version(question_id: int) -> str:
    key = _VERSION.format(question_id)
    token = cache.get(key)
    if token is None:
        cache.add(key, _new_token(), timeout=None)
        token = cache.get(key)
    return str(token)


def question_changed(question_id: int) -> None:
    """Every cached view of the question is stale from now on, and again once the surrounding transaction commits.

    The second replacement is the one that matters to other connections (a view read from the database between the
    two still shows the rows before the commit); the first makes this connection's own reads inside the
    transaction, and everything when the transaction is never committed here (a test's), fresh."""
    key = _VERSION.format(question_id)
    cache.set(key, _new_token(), timeout=None)
    transaction.on_commit(lambda: cache.set(key, _new_token(), timeout=None))


def view_key(question_id: int, view: str, version: str) -> str:
    return f"fa:q:{question_id}:{view}:{version}"


def cached_view(question_id: int, view: str) -> tuple[str, Any]:
    """(the key to store a fresh view under, the cached view or None). Take it before reading the database."""
    key = view_key(question_id, view, question_version(question_id))
    return key, cache.get(key)


def store_view(key: str, value: Any) -> None:
    cache.set(key, value, timeout=settings.FA_QUESTION_CACHE_SECONDS)
