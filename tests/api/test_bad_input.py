"""Bad input gets a 4xx naming the field and the rule, never a 500, and nothing is half-written."""

from __future__ import annotations

import json

import pytest

from forecasts import services
from forecasts.models import Endorsement, Evidence, Influence, Posterior, Prediction, Question
from tests.conftest import POSTERIOR_SPEC
from tests.factories import EvidenceFactory

pytestmark = pytest.mark.django_db

QUESTION = {"title": "T", "scale": "log", "lower": 1, "upper": 1e6, "closes_at": "2999-01-01T00:00:00Z"}


def _post_question(client, **changes):
    return client.post("/api/questions/", {**QUESTION, **changes}, format="json")


def test_it_refuses_malformed_json(client_for, alice):
    response = client_for(alice).post("/api/questions/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"scale": "cubic"}, "scale"),
        ({"lower": "ten"}, "lower"),
        ({"lower": True}, "lower"),
        ({"lower": 0}, "lower"),  # log scale needs lower > 0
        ({"lower": 1e6, "upper": 1}, "upper"),
        ({"scale": "linear", "lower": -1e308, "upper": 1e308}, "upper"),  # upper - lower overflows
        ({"lower": 1e-300, "upper": 1e300}, "upper"),  # upper / lower overflows
        ({"closes_at": "2001-01-01T00:00:00Z"}, "closes_at"),
        ({"closes_at": "tomorrow"}, "closes_at"),
        ({"title": ""}, "title"),
        ({"open_lower": "perhaps"}, "open_lower"),
        ({"expert": "nobody-by-that-name"}, "expert"),
    ],
)
def test_it_names_the_field_of_a_bad_question(client_for, alice, changes, field):
    response = _post_question(client_for(alice), **changes)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Question.objects.exists()


def test_it_refuses_a_non_date_bound_on_a_date_question(client_for, alice):
    response = _post_question(client_for(alice), scale="date", lower="2020-01-01", upper="not-a-date")
    assert response.status_code == 400
    assert "upper" in response.json()


def test_it_accepts_iso_dates_on_a_date_question(client_for, alice):
    response = _post_question(client_for(alice), scale="date", lower="2020-01-01", upper="2100-12-31")
    assert response.status_code == 201, response.content
    assert response.json()["lower"] == "2020-01-01"
    assert response.json()["upper"] == "2100-12-31"


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"type": "quantiles", "points": [{"p": 0.5, "x": 1e9}, {"p": 0.4, "x": 1e10}]}, "points[1].p"),
        ({"type": "quantiles", "points": [{"p": 0.1, "x": -5}, {"p": 0.9, "x": 1e10}]}, "points[0].x"),
        ({"type": "quantiles", "points": [{"p": 0.1, "x": 1e3}, {"p": 1.2, "x": 1e10}]}, "points[1].p"),
        ({"type": "lognormal", "median": 1e9, "sigma": -1}, "sigma"),
        ({"type": "lognormal", "median": 1e9, "sigma": 1, "mass_above": 0.7, "mass_below": 0.6}, "mass"),
        ({"type": "cdf", "cdf": [0.5] * 200}, "cdf"),
        ({"type": "cdf", "cdf": [1.0] + [0.5] * 200}, "cdf"),
        ({"type": "gamma", "k": 2}, "type"),
        ({"points": []}, "type"),
    ],
)
def test_it_names_the_rule_a_spec_broke(client_for, open_question, bob, spec, needle):
    response = client_for(bob).post(f"/api/questions/{open_question.pk}/predictions/", {"spec": spec},
                                    format="json")
    assert response.status_code == 400, response.content
    message = " ".join(response.json()["spec"])
    assert needle in message, message
    assert not Prediction.objects.filter(author=bob).exists()


def test_it_refuses_nan_in_a_spec(client_for, open_question, bob):
    body = '{"spec": {"type": "lognormal", "median": NaN, "sigma": 1}}'
    response = client_for(bob).post(f"/api/questions/{open_question.pk}/predictions/", data=body,
                                    content_type="application/json")
    assert response.status_code == 400


def test_it_refuses_a_spec_that_is_not_an_object(client_for, open_question, bob):
    response = client_for(bob).post(f"/api/questions/{open_question.pk}/predictions/", {"spec": [1, 2]},
                                    format="json")
    assert response.status_code == 400
    assert "spec" in response.json()


def test_it_refuses_absurd_sizes(client_for, open_question, bob):
    points = [{"p": (i + 1) / 2002, "x": 10 + i} for i in range(2001)]
    response = client_for(bob).post(f"/api/questions/{open_question.pk}/predictions/",
                                    {"spec": {"type": "quantiles", "points": points}}, format="json")
    assert response.status_code in (400, 413)


def test_it_refuses_an_oversize_body(client_for, open_question, bob):
    body = json.dumps({"body": "x" * 400_000})
    response = client_for(bob).post(f"/api/questions/{open_question.pk}/evidence/", data=body,
                                    content_type="application/json")
    assert response.status_code == 413
    assert not Evidence.objects.exists()


def test_unknown_ids_are_404(client_for, alice):
    client = client_for(alice)
    assert client.get("/api/questions/999999/").status_code == 404
    assert client.post("/api/questions/999999/predictions/", {"spec": POSTERIOR_SPEC}, format="json"
                       ).status_code == 404
    assert client.get("/api/jobs/999999/").status_code == 404


def test_it_refuses_evidence_from_another_question(client_for, open_question, bob, expert):
    from datetime import timedelta

    from django.utils import timezone

    from forecasts import services
    from tests.conftest import COMPUTE_QUESTION, PRIOR_SPEC

    other = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=1),
                                     **COMPUTE_QUESTION)
    services.prior_set(question=other, user=expert, spec=PRIOR_SPEC)
    other = services.question_open(question=other, user=expert)
    foreign = services.evidence_post(question=other, author=bob, body="elsewhere")
    response = client_for(bob).post(f"/api/questions/{open_question.pk}/predictions/",
                                    {"spec": POSTERIOR_SPEC, "evidence": [foreign.pk]}, format="json")
    assert response.status_code == 400
    assert "evidence" in response.json()


@pytest.mark.parametrize(
    ("influence", "field"),
    [
        ([{"evidence": 999999, "weight": 1}], "influence[0].evidence"),
        ([{"evidence": "EVID", "weight": -1}], "influence"),
        ([{"evidence": "EVID", "weight": 1}, {"evidence": "EVID", "weight": 2}], "influence[1].evidence"),
    ],
)
def test_a_bad_influence_weight_leaves_no_posterior(client_for, closed_question, expert, alice, influence, field):
    evidence = EvidenceFactory(question=closed_question, author=alice)
    for item in influence:
        if item["evidence"] == "EVID":
            item["evidence"] = evidence.pk
    response = client_for(expert).put(f"/api/questions/{closed_question.pk}/posterior/",
                                      {"spec": POSTERIOR_SPEC, "influence": influence}, format="json")
    assert response.status_code == 400, response.content
    assert field in json.dumps(response.json())
    assert not Posterior.objects.exists()
    assert not Influence.objects.exists()
    closed_question.refresh_from_db()
    assert closed_question.status == "closed"


@pytest.mark.parametrize("path", ["/api/questions/{big}/", "/api/questions/{big}/scores/", "/api/jobs/{big}/",
                                  "/api/evidence/{big}/endorse/"])
def test_an_id_past_64_bits_is_404_not_a_crash(client_for, alice, path):
    client = client_for(alice)
    url = path.format(big=10**30)
    response = client.post(url) if url.endswith("endorse/") else client.get(url)
    assert response.status_code == 404


# "\u00b2" (superscript two) passes str.isdigit() but not int(); 5000 digits are past int()'s limit for a string.
@pytest.mark.parametrize("value", ["abc", "", "99999999999999999999999", "9" * 19, "-1", "\u00b2", "1" * 5000, "1\n"])
def test_a_bad_evidence_id_in_the_page_form_is_a_message_not_a_crash(client, open_question, bob, value):
    client.force_login(bob)
    response = client.post(f"/questions/{open_question.pk}/endorse/", {"evidence": value}, follow=True)
    assert response.status_code == 200
    assert "evidence: no evidence" in response.content.decode()
    assert not Endorsement.objects.exists()


@pytest.mark.parametrize("zero", ["\u0660", "\uff10"], ids=["arabic-indic", "fullwidth"])
def test_the_page_form_reads_only_ascii_digits_as_an_evidence_id(client, open_question, alice, bob, zero):
    # int() reads these digits as the id itself; the form takes the ASCII digits people type, nothing else.
    evidence = services.evidence_post(question=open_question, author=alice, body="e")
    lookalike = "".join(chr(ord(zero) + int(d)) for d in str(evidence.pk))
    client.force_login(bob)
    response = client.post(f"/questions/{open_question.pk}/endorse/", {"evidence": lookalike}, follow=True)
    assert response.status_code == 200
    assert "evidence: no evidence" in response.content.decode()
    assert not Endorsement.objects.exists()
    # The same id in ASCII digits is endorsed.
    client.post(f"/questions/{open_question.pk}/endorse/", {"evidence": str(evidence.pk)})
    assert Endorsement.objects.filter(evidence=evidence, user=bob).exists()


def test_the_page_form_refuses_a_question_whose_width_overflows(client, alice):
    client.force_login(alice)
    response = client.post("/questions/new/", {"title": "T", "scale": "linear", "lower": "-1e308", "upper": "1e308",
                                                "closes_at": "2999-01-01 00:00"})
    assert response.status_code == 200  # the form again, with the error
    assert "upper - lower overflows" in response.content.decode()
    assert not Question.objects.exists()


def _predict(client, question, spec):
    return client.post(f"/api/questions/{question.pk}/predictions/", {"spec": spec}, format="json")


def test_it_refuses_a_histogram_whose_bins_hold_nothing(client_for, open_question, bob):
    # The question is log, 100 to 1e18, open on both sides; the tails are within 1e-6 of 1, so the sum rule passes.
    spec = {"type": "histogram", "mass_below": 0.5, "mass_above": 0.4999995, "bins": [{"lo": 1e3, "hi": 1e5, "p": 0}]}
    response = _predict(client_for(bob), open_question, spec)
    assert response.status_code == 400, response.content
    message = " ".join(response.json()["spec"])
    assert "bins: " in message and "total p must be above 0" in message, message
    assert not Prediction.objects.filter(author=bob).exists()


def test_it_refuses_mixture_weights_whose_sum_overflows(client_for, open_question, bob):
    component = {"type": "lognormal", "median": 1e9, "sigma": 1}
    spec = {"type": "mixture", "components": [{"weight": 1e308, "spec": component},
                                              {"weight": 1e308, "spec": component}]}
    response = _predict(client_for(bob), open_question, spec)
    assert response.status_code == 400, response.content
    message = " ".join(response.json()["spec"])
    assert "components: " in message and "overflows" in message, message
    assert not Prediction.objects.filter(author=bob).exists()


def test_it_refuses_a_body_nested_too_deeply_to_parse(client_for, open_question, bob):
    body = "[" * 200_000  # under the body size limit, far past the json module's recursion limit
    response = client_for(bob).post(f"/api/questions/{open_question.pk}/predictions/", data=body,
                                    content_type="application/json")
    assert response.status_code == 400, response.content
    assert "JSON" in response.json()["detail"]
    assert "nested too deeply" in response.json()["detail"]
    assert not Prediction.objects.exists()


@pytest.mark.parametrize("body", [
    '{"spec": {"type": "normal", "mean": 0.5, "sd": 1, "\\ud800": 1}}',
    '{"spec": {"type": "lognormal", "median": 1e9, "sigma": 1}, "evidence": [], "note": "\\udfff"}',
])
def test_text_that_is_not_valid_unicode_is_refused(client_for, open_question, alice, body):
    # A lone surrogate escape parses in Python's json, but no database driver or JSON renderer can encode it.
    response = client_for(alice).post(f"/api/questions/{open_question.pk}/predictions/", data=body,
                                      content_type="application/json")
    assert response.status_code == 400
    assert "not valid Unicode" in response.json()["detail"]
    assert not Prediction.objects.exists()


def test_an_expert_name_that_is_not_valid_unicode_is_refused(client_for, alice):
    body = json.dumps({**QUESTION, "expert": "\ud800"})  # json.dumps writes it as the escape \ud800
    response = client_for(alice).post("/api/questions/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert not Question.objects.exists()
