"""The whole competition through the HTTP API, for both reference scenarios of docs/design.md.

A commenter whose predicted posterior is close to the expert's real posterior must rank above one who predicted no
change, who must rank above one who moved the wrong way.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from forecasts import demo

pytestmark = pytest.mark.django_db(transaction=True)

SCENARIOS = {scenario.expert: scenario for scenario in demo.SCENARIOS}


def _token(client, username: str) -> str:
    response = client.post("/api/auth/register/", {"username": username, "password": "a-long-pass-phrase"},
                           format="json")
    assert response.status_code == 201, response.content
    return response.json()["token"]


def _as(client, token: str):
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.parametrize("expert_name", ["buck", "rohin"])
def test_it_ranks_close_above_no_change_above_wrong_way(client_for, expert_name):
    scenario = SCENARIOS[expert_name]
    client = client_for()
    tokens = {name: _token(client, name) for name in (expert_name, "close", "nochange", "wrongway")}

    body = {**scenario.question, "closes_at": (timezone.now() + timedelta(days=3)).isoformat()}
    response = _as(client, tokens[expert_name]).post("/api/questions/", body, format="json")
    assert response.status_code == 201, response.content
    question = response.json()
    assert question["status"] == "draft"
    qid = question["id"]

    response = client.put(f"/api/questions/{qid}/prior/", {"spec": scenario.prior}, format="json")
    assert response.status_code == 200, response.content
    assert len(response.json()["cdf"]) == 201
    assert client.post(f"/api/questions/{qid}/open/").json()["status"] == "open"

    evidence = _as(client, tokens["close"]).post(
        f"/api/questions/{qid}/evidence/", {"body": scenario.evidence[0][1], "sources": ["https://example.org/a"]},
        format="json",
    )
    assert evidence.status_code == 201, evidence.content
    evidence_id = evidence.json()["id"]

    close, no_change, wrong = scenario.predictions.values()
    for name, spec in (("close", close), ("nochange", no_change), ("wrongway", wrong)):
        response = _as(client, tokens[name]).post(
            f"/api/questions/{qid}/predictions/", {"spec": spec, "evidence": [evidence_id] if name == "close" else []},
            format="json",
        )
        assert response.status_code == 201, response.content

    assert _as(client, tokens[expert_name]).post(f"/api/questions/{qid}/close/").json()["status"] == "closed"
    response = client.put(
        f"/api/questions/{qid}/posterior/",
        {"spec": scenario.posterior, "influence": [{"evidence": evidence_id, "weight": 2.5, "note": "key point"}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    job_id = response.json()["job"]

    job = client.get(f"/api/jobs/{job_id}/").json()
    assert job["state"] == "done"
    assert job["done"] == job["total"] == 3

    scores = client.get(f"/api/questions/{qid}/scores/").json()
    assert scores["status"] == "scored"
    ranking = [row["author"] for row in scores["results"]]
    assert ranking == ["close", "nochange", "wrongway"]
    by_author = {row["author"]: row for row in scores["results"]}
    assert by_author["close"]["skill"] > 0
    assert by_author["nochange"]["skill"] == pytest.approx(0.0, abs=1e-12)
    assert by_author["wrongway"]["skill"] < 0
    assert [row["rank"] for row in scores["results"]] == [1, 2, 3]

    aggregate = client.get(f"/api/questions/{qid}/aggregate/").json()
    assert aggregate["n_predictions"] == 3
    assert len(aggregate["cdf"]) == 201
    assert set(aggregate["scores"]) >= {"kl", "skill", "crps"}


def test_a_newer_prediction_replaces_the_older_for_scoring(client_for, open_question, alice, expert):
    client = client_for(alice)
    first = {"type": "lognormal", "median": 1e16, "sigma": 1.0}
    second = {"type": "lognormal", "median": 1e9, "sigma": 2.0}
    for spec in (first, second):
        assert client.post(f"/api/questions/{open_question.pk}/predictions/", {"spec": spec}, format="json"
                           ).status_code == 201
    history = client.get(f"/api/questions/{open_question.pk}/predictions/").json()
    assert [p["is_current"] for p in history] == [False, True]

    expert_client = client_for(expert)
    expert_client.post(f"/api/questions/{open_question.pk}/close/")
    expert_client.put(f"/api/questions/{open_question.pk}/posterior/", {"spec": second}, format="json")
    results = expert_client.get(f"/api/questions/{open_question.pk}/scores/").json()["results"]
    assert len(results) == 1
    assert results[0]["prediction"] == history[1]["id"]
    # Identical to the posterior but for the 1% uniform mixed into every prediction: KL(P || 0.99 P + 0.01 U)
    # lies in (0, -ln 0.99], since 0.99 P + 0.01 U >= 0.99 P pointwise.
    assert 0 < results[0]["kl"] <= -math.log(0.99)


def test_forecasts_move_to_and_from_metaculus_without_loss(client_for, open_question, alice):
    client = client_for(alice)
    client.post(f"/api/questions/{open_question.pk}/predictions/",
                {"spec": {"type": "lognormal", "median": 1e9, "sigma": 2.0}}, format="json")
    exported = client.get(f"/api/questions/{open_question.pk}/export/metaculus/").json()
    mine = exported["mine"]
    assert (mine["lower_bound"], mine["upper_bound"], mine["open_lower_bound"]) == (1e2, 1e18, True)
    assert exported["aggregate"] is None  # hidden while the question is open
    again = client.post(f"/api/questions/{open_question.pk}/predictions/",
                        {"spec": {"type": "cdf", "cdf": mine["continuous_cdf"]}}, format="json")
    assert again.status_code == 201
    assert again.json()["distribution"]["cdf"] == mine["continuous_cdf"]
