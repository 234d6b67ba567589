"""The append-only audit log: every write a service makes records who did what to which question."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from .models import AuditEvent, Question
from .rows import insert_row


def audit(*, action: str, actor=None, question: Question | None = None, **data: Any) -> int:
    """Record one audit row; returns its id."""
    return insert_row(AuditEvent, at=timezone.now(), action=action, data=data,
                      actor_id=actor.pk if actor and actor.is_authenticated else None,
                      question_id=question.pk if question is not None else None)
