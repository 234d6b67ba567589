"""POST /api/questions/{id}/preview/: the distribution a spec would be, as a stored one is shown, with nothing stored;
the same 400s as a PUT of the prior; visible exactly as the question is."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import numpy as np
import pytest
from django.test import Client
from django.utils import timezone
from scipy.stats import norm

from forecasts import services
from forecasts.models import AuditEvent, Evidence, Posterior, Prediction, Prior, Question
from tests.conftest import POSTERIOR_SPEC, PRIOR_SPEC

pytestmark = pytest.mark.django_db


def preview_url(question) -> str:
    return f"/api/questions/{question.pk}/preview/"


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count()
            for model in (Question, Prior, Prediction, Posterior, Evidence, AuditEvent)}


def test_it_answers_the_stored_distribution_shape(client_for, alice, open_question):
    response = client_for(alice).post(preview_url(open_question), {"spec": POSTERIOR_SPEC}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert {"spec", "cdf", "mass_below", "mass_above", "summary", "notes"} <= set(body)
    assert body["spec"] == POSTERIOR_SPEC and len(body["cdf"]) == 201
    # The compute question is log-scaled over [100, 1e18], open above: a lognormal with median 1e9 and sigma 2 puts
    # P(X <= x) = Phi((ln x - ln 1e9) / 2) at every grid point (its mass below 100 is negligible here, < 1e-7).
    u = np.linspace(0, 1, 201)
    x = 100 * (1e18 / 100) ** u
    expected = norm.cdf((np.log(x) - math.log(1e9)) / 2.0)
    assert np.max(np.abs(np.array(body["cdf"]) - expected)) < 1e-6
    assert body["summary"]["median"] == pytest.approx(1e9, rel=1e-2)


def test_it_gives_what_a_put_of_the_prior_then_stores(client_for, expert, draft_question):
    client = client_for(expert)
    preview = client.post(preview_url(draft_question), {"spec": PRIOR_SPEC}, format="json").json()
    stored = client.put(f"/api/questions/{draft_question.pk}/prior/", {"spec": PRIOR_SPEC}, format="json").json()
    stored.pop("updated_at")  # when the prior was stored (the forecast log's time for it); a preview is never stored
    assert preview == stored


def test_it_stores_nothing(client_for, alice, expert, open_question):
    before = row_counts()
    prior_before = Prior.objects.get(question=open_question).cdf.copy()
    for user, spec in ((alice, POSTERIOR_SPEC), (expert, PRIOR_SPEC), (alice, {"type": "lognormal", "median": -1})):
        client_for(user).post(preview_url(open_question), {"spec": spec}, format="json")
    assert row_counts() == before
    assert np.array_equal(Prior.objects.get(question=open_question).cdf, prior_before)


BAD_SPECS = [
    {"type": "quantiles", "points": [{"p": 0.05, "x": 1e11}, {"p": 0.5, "x": 1e9}, {"p": 0.95, "x": 1e7}]},
    {"type": "quantiles", "points": [{"p": 0.05, "x": -5}, {"p": 0.5, "x": 1e9}]},
    {"type": "quantiles", "points": [{"p": 0.5, "x": 1e9}, {"p": 1.5, "x": 1e10}]},
    {"type": "lognormal", "median": 1e9, "sigma": 2, "mass_above": 0.7, "mass_below": 0.4},
    {"type": "cdf", "cdf": [0.5] * 200},
    {"type": "histogram", "bins": [{"lo": 1e3, "hi": 1e5, "p": 0.5}]},
    {"type": "mixture", "components": []},
    {"type": "unknown"},
    {"no": "type"},
    [1, 2, 3],
]


@pytest.mark.parametrize("spec", BAD_SPECS, ids=[json.dumps(s)[:40] for s in BAD_SPECS])
def test_a_bad_spec_is_the_400_a_put_of_the_prior_gives(client_for, expert, draft_question, spec):
    client = client_for(expert)
    preview = client.post(preview_url(draft_question), {"spec": spec}, format="json")
    put = client.put(f"/api/questions/{draft_question.pk}/prior/", {"spec": spec}, format="json")
    assert preview.status_code == put.status_code == 400
    assert preview.json() == put.json()
    assert "spec" in preview.json()


def test_a_body_without_a_spec_is_refused_by_field(client_for, alice, open_question):
    response = client_for(alice).post(preview_url(open_question), {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"spec": ["This field is required."]}


def test_an_oversize_body_is_413(client_for, alice, open_question):
    body = json.dumps({"spec": {"type": "cdf", "cdf": [0.5] * 201, "pad": "x" * 400_000}})
    response = client_for(alice).post(preview_url(open_question), data=body, content_type="application/json")
    assert response.status_code == 413


def test_too_many_points_is_the_same_400_as_a_put(client_for, expert, draft_question):
    points = [{"p": (i + 1) / 1003, "x": 10 + i} for i in range(1001)]
    client = client_for(expert)
    preview = client.post(preview_url(draft_question), {"spec": {"type": "quantiles", "points": points}},
                          format="json")
    put = client.put(f"/api/questions/{draft_question.pk}/prior/", {"spec": {"type": "quantiles", "points": points}},
                     format="json")
    assert preview.status_code == put.status_code == 400 and preview.json() == put.json()


# Who may preview: whoever may see the question. A draft is its expert's, its creator's and organizers'.
@pytest.mark.parametrize(("persona", "expected"), [("expert", 200), ("alice", 404), ("organizer", 200),
                                                   ("outsider", 404)])
def test_a_draft_previews_only_for_those_who_see_it(client_for, expert, alice, organizer, outsider, draft_question,
                                                    persona, expected):
    user = {"expert": expert, "alice": alice, "organizer": organizer, "outsider": outsider}[persona]
    response = client_for(user).post(preview_url(draft_question), {"spec": PRIOR_SPEC}, format="json")
    assert response.status_code == expected
    assert client_for(user).get(f"/api/questions/{draft_question.pk}/").status_code == expected


def test_a_draft_is_not_found_even_with_a_bad_spec(client_for, alice, draft_question):
    # 404 before any validation: the answer must not reveal that the question exists.
    response = client_for(alice).post(preview_url(draft_question), {"spec": {"type": "unknown"}}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("status", ["open", "closed"])
def test_any_signed_in_user_previews_a_visible_question(client_for, outsider, open_question, expert, status):
    if status == "closed":
        services.question_close(question=open_question, user=expert)
    response = client_for(outsider).post(preview_url(open_question), {"spec": POSTERIOR_SPEC}, format="json")
    assert response.status_code == 200


def test_anonymous_is_refused_as_for_other_writes(client_for, open_question):
    preview = client_for().post(preview_url(open_question), {"spec": POSTERIOR_SPEC}, format="json")
    prediction = client_for().post(f"/api/questions/{open_question.pk}/predictions/", {"spec": POSTERIOR_SPEC},
                                   format="json")
    assert preview.status_code == prediction.status_code
    assert preview.status_code in (401, 403)


def test_unknown_and_malformed_ids_are_404(client_for, alice):
    client = client_for(alice)
    assert client.post("/api/questions/999999/preview/", {"spec": POSTERIOR_SPEC}, format="json").status_code == 404
    assert client.post("/api/questions/x1/preview/", {"spec": POSTERIOR_SPEC}, format="json").status_code == 404


def test_a_due_question_is_not_closed_by_a_preview(client_for, alice, open_question):
    Question.objects.filter(pk=open_question.pk).update(closes_at=timezone.now() - timedelta(minutes=1))
    response = client_for(alice).post(preview_url(open_question), {"spec": POSTERIOR_SPEC}, format="json")
    assert response.status_code == 200
    assert Question.objects.get(pk=open_question.pk).status == "open"


# The web editor calls it with the session cookie: CSRF applies, as for every session-authenticated write.


def test_a_session_call_needs_the_csrf_token(alice, open_question):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    body = json.dumps({"spec": POSTERIOR_SPEC})
    refused = client.post(preview_url(open_question), data=body, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    client.get(f"/questions/{open_question.pk}/")  # the page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    allowed = client.post(preview_url(open_question), data=body, content_type="application/json",
                          HTTP_X_CSRFTOKEN=token)
    assert allowed.status_code == 200


def test_it_is_cheap_in_queries(client_for, alice, open_question, django_assert_max_num_queries):
    client = client_for(alice)
    # The question (with its visibility filter) and the organizer check; nothing else, and no writes.
    with django_assert_max_num_queries(2) as ctx:
        response = client.post(preview_url(open_question), {"spec": POSTERIOR_SPEC}, format="json")
    assert response.status_code == 200
    assert not any(q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) for q in ctx.captured_queries)


def test_a_date_question_previews_in_dates(client_for, expert):
    question = services.question_create(
        created_by=expert, title="When?", scale="date", lower="2020-01-01", upper="2100-12-31", open_lower=True,
        open_upper=True, closes_at=timezone.now() + timedelta(days=3))
    spec = {"type": "quantiles", "mass_below": 0.001, "mass_above": 0.35,
            "points": [{"p": 0.2, "x": "2030-01-01"}, {"p": 0.5, "x": "2045-01-01"}]}
    body = client_for(expert).post(preview_url(question), {"spec": spec}, format="json").json()
    assert body["mass_below"] == pytest.approx(0.001) and body["mass_above"] == pytest.approx(0.35)
    assert body["summary"]["p95"] is None  # beyond the range: in "after 2100 or never"
    assert isinstance(body["summary"]["median"], str) and body["summary"]["median"].startswith("204")


def test_the_schema_describes_the_preview(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/questions/{id}/preview/"]["post"]
    assert {"200", "400", "404", "413"} <= set(operation["responses"])
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    fields = set(schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"])
    assert {"spec", "cdf", "mass_below", "mass_above", "summary", "fit"} <= fields

