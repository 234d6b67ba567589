"""The append-only audit log: every write a service makes records who did what to which question."""

from __future__ import annotations

from typing import Any

from .models import AuditEvent, Question


def audit(*, action: str, actor=None, question: Question | None = None, **data: Any) -> AuditEvent:
    return AuditEvent.objects.create(action=action, actor=actor if actor and actor.is_authenticated else None,
                                     question=question, data=data)
