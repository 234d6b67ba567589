import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from tests.api.conftest_prizes import scored_question_fixture  # noqa: F401

_spec = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(_spec)
schema.app = get_wsgi_application()


@schema.include(path_regex="prizes|audit|competitions|leaderboard|influence|payouts").parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzz(case, scored_question, organizer, db):
    token = Token.objects.get_or_create(user=organizer)[0].key
    if "id" in (case.path_parameters or {}) and case.path.startswith("/api/questions/"):
        case.path_parameters["id"] = scored_question.pk
    response = case.call(headers={"Authorization": f"Token {token}"})
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:800])
