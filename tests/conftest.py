"""Shared fixtures: personas (the question's expert, commenters, an organizer, an outsider) and API clients."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from forecasts import demo, services
from tests.factories import UserFactory

User = get_user_model()

# No per-example deadline: the machine is shared (2 cores, servers and a worker beside the tests), and a slow example
# is not a wrong one. Failing examples print a reproduction blob.
hypothesis_settings.register_profile("default", deadline=None, print_blob=True)
hypothesis_settings.load_profile("default")

COMPUTE_QUESTION = demo.SCENARIOS[0].question
PRIOR_SPEC = demo.COMPUTE_PRIOR
POSTERIOR_SPEC = {"type": "lognormal", "median": 1e9, "sigma": 2.0}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The default hasher is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The throttles count in the cache (LocMem in tests): each test starts with no attempts counted.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def smtp_sink():
    """A real SMTP server on a free loopback port (tests/smtp_sink.py), stopped after the test."""
    from tests.smtp_sink import SmtpSink

    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def make_user(db):
    def make(username: str, *, organizer: bool = False):
        return UserFactory(username=username, organizer=organizer)

    return make


@pytest.fixture
def expert(make_user):
    return make_user("expert")


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def carol(make_user):
    return make_user("carol")


@pytest.fixture
def organizer(make_user):
    return make_user("organizer", organizer=True)


@pytest.fixture
def outsider(make_user):
    return make_user("outsider")


@pytest.fixture
def client_for():
    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def draft_question(expert):
    return services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=7), **COMPUTE_QUESTION)


@pytest.fixture
def open_question(draft_question, expert):
    services.prior_set(question=draft_question, user=expert, spec=PRIOR_SPEC)
    return services.question_open(question=draft_question, user=expert)


@pytest.fixture
def closed_question(open_question, expert, alice):
    services.prediction_submit(question=open_question, author=alice, spec=POSTERIOR_SPEC)
    return services.question_close(question=open_question, user=expert)
