"""Fuzz every operation of the API from its own OpenAPI schema (schemathesis): no input may cause a 500.

Path ids are pointed at a real, open question so the generated bodies reach the services rather than a 404.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from forecasts import services
from tests.conftest import COMPUTE_QUESTION, PRIOR_SPEC

_spec = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(_spec)
schema.app = get_wsgi_application()

PERSONA_STATE = {}


@pytest.fixture
def fuzz_world(db, make_user, request):
    expert = make_user("fuzz-expert", organizer=True)
    commenter = make_user("fuzz-commenter")
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=3),
                                        **COMPUTE_QUESTION)
    services.prior_set(question=question, user=expert, spec=PRIOR_SPEC)
    services.question_open(question=question, user=expert)
    evidence = services.evidence_post(question=question, author=commenter, body="seed evidence")
    return {
        "question": question,
        "evidence": evidence,
        "tokens": {"expert": Token.objects.create(user=expert).key,
                   "commenter": Token.objects.create(user=commenter).key},
    }


@pytest.mark.parametrize("persona", ["expert", "commenter"])
@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gives_a_server_error(case, fuzz_world, persona):
    if "id" in (case.path_parameters or {}):
        if case.path.startswith("/api/evidence/"):
            case.path_parameters["id"] = fuzz_world["evidence"].pk
        elif case.path.startswith("/api/questions/"):
            case.path_parameters["id"] = fuzz_world["question"].pk
    response = case.call(headers={"Authorization": f"Token {fuzz_world['tokens'][persona]}"})
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:500])
