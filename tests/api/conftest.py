"""Fixtures shared by the API tests: an organizer-like staff user and a scored question (tests/builders.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.builders import CLOSE, NO_CHANGE, WRONG_WAY, build_scored_question

User = get_user_model()


@pytest.fixture(name="staff")
def staff_fixture(db):
    return User.objects.create_user(username="staff", password="pass-word-123", is_staff=True)


@pytest.fixture(name="scored_question")
def scored_question_fixture(django_capture_on_commit_callbacks, expert, alice, bob, carol):
    """alice predicts close, bob predicts no change, carol the wrong way; the expert weighs their comments 3:1:0."""
    return build_scored_question(
        django_capture_on_commit_callbacks, expert=expert,
        predictions={alice: CLOSE, bob: NO_CHANGE, carol: WRONG_WAY},
        evidence={alice: 3.0, bob: 1.0, carol: 0.0},
    )
