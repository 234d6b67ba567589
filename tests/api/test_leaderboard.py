"""Leaderboards: one question's ranking with its payouts, and a competition's totals across questions."""

from __future__ import annotations

import csv
import io
import math
from decimal import Decimal

import pytest

from forecasts.models import Score
from tests.builders import (
    AS_INTERVAL,
    AS_QUANTILES,
    CLOSE,
    NO_CHANGE,
    PRIZES,
    WRONG_WAY,
    build_scored_question,
)

pytestmark = pytest.mark.django_db


def test_it_ranks_the_question_leaderboard_and_adds_payouts_once_awarded(client_for, organizer, alice,
                                                                        scored_question):
    url = f"/api/questions/{scored_question.pk}/leaderboard/"
    board = client_for(alice).get(url).json()
    assert [r["user"] for r in board["results"]] == ["alice", "bob", "carol"]
    assert [r["rank"] for r in board["results"]] == [1, 2, 3]
    assert all(r["payout"] is None for r in board["results"]) and board["payouts"] == []

    client = client_for(organizer)
    client.post(f"/api/questions/{scored_question.pk}/prizes/", PRIZES, format="json")
    client.post(f"/api/questions/{scored_question.pk}/prizes/award/")
    board = client_for(alice).get(url).json()
    assert {r["user"]: r["payout"] for r in board["results"]} == {"alice": "87.50", "bob": "12.50", "carol": "0.00"}
    assert board["currency"] == "USD"
    assert sum(Decimal(p["amount"]) for p in board["payouts"]) == Decimal("100.00")


def test_it_shows_an_empty_leaderboard_before_scoring(client_for, alice, closed_question):
    board = client_for(alice).get(f"/api/questions/{closed_question.pk}/leaderboard/").json()
    assert board["status"] == "closed" and board["results"] == []


@pytest.fixture
def two_questions(django_capture_on_commit_callbacks, expert, alice, bob, carol):
    first = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                  predictions={alice: CLOSE, bob: NO_CHANGE, carol: WRONG_WAY}, title="first")
    # bob sits the second one out: his total counts 0 there.
    second = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                   predictions={alice: CLOSE, carol: CLOSE}, title="second")
    return first, second


def _expected_totals(questions) -> dict[str, tuple[float, float, int]]:
    out = {}
    for name in ("alice", "bob", "carol"):
        rows = Score.objects.filter(question__in=questions, author__username=name)
        skills, kls = [r.skill for r in rows], [r.kl for r in rows]
        out[name] = (math.fsum(skills), math.fsum(kls) / len(kls), len(kls))
    return out


def test_it_sums_skill_across_a_competitions_questions(client_for, organizer, alice, two_questions):
    response = client_for(organizer).post(
        "/api/competitions/", {"name": "2020 runs", "questions": [q.pk for q in two_questions], "pool": "300.00"},
        format="json",
    )
    assert response.status_code == 201, response.content
    competition = response.json()
    assert competition["pool"] == "300.00"

    board = client_for(alice).get(f"/api/competitions/{competition['id']}/leaderboard/").json()
    expected = _expected_totals(two_questions)
    results = {r["user"]: r for r in board["results"]}
    for name, (total, mean_kl, n) in expected.items():
        assert results[name]["total_skill"] == pytest.approx(total, rel=1e-12, abs=1e-12)
        assert results[name]["mean_kl"] == pytest.approx(mean_kl, rel=1e-12)
        assert results[name]["questions"] == n
    assert results["bob"]["questions"] == 1
    totals = [r["total_skill"] for r in board["results"]]
    assert totals == sorted(totals, reverse=True)
    assert board["results"][0]["rank"] == 1


def test_it_ranks_one_distribution_entered_two_ways_together(django_capture_on_commit_callbacks, client_for,
                                                             organizer, expert, alice, bob, carol):
    questions = [
        build_scored_question(django_capture_on_commit_callbacks, expert=expert, title=title,
                              predictions={alice: AS_INTERVAL, bob: AS_QUANTILES, carol: WRONG_WAY})
        for title in ("first", "second")
    ]
    board = client_for(alice).get(f"/api/questions/{questions[0].pk}/leaderboard/").json()
    assert {r["user"]: r["rank"] for r in board["results"]} == {"alice": 1, "bob": 1, "carol": 3}

    client = client_for(organizer)
    competition = client.post(
        "/api/competitions/", {"name": "two forms", "questions": [q.pk for q in questions], "pool": "100.01"},
        format="json",
    ).json()
    url = f"/api/competitions/{competition['id']}"
    board = client_for(alice).get(f"{url}/leaderboard/").json()
    assert {r["user"]: r["rank"] for r in board["results"]} == {"alice": 1, "bob": 1, "carol": 3}
    payouts = {p["user"]: p["amount"] for p in client.post(f"{url}/prizes/").json()["payouts"]}
    # Equal total skill, so equal halves; the odd cent by user id, and alice was created first.
    assert payouts == {"alice": "50.01", "bob": "50.00"}


def test_it_pays_a_competition_pool_by_total_skill(client_for, organizer, alice, two_questions):
    client = client_for(organizer)
    competition = client.post(
        "/api/competitions/", {"name": "2020 runs", "questions": [q.pk for q in two_questions], "pool": "100.00"},
        format="json",
    ).json()
    url = f"/api/competitions/{competition['id']}"
    assert client_for(alice).get(f"{url}/payouts.csv").status_code == 409
    assert client_for(alice).post(f"{url}/prizes/").status_code == 403

    response = client.post(f"{url}/prizes/")
    assert response.status_code == 201, response.content
    payouts = {p["user"]: Decimal(p["amount"]) for p in response.json()["payouts"]}
    assert sum(payouts.values()) == Decimal("100.00")
    positive = {n for n, (total, _, _) in _expected_totals(two_questions).items() if total > 0}
    assert set(payouts) == positive
    assert client.post(f"{url}/prizes/").status_code == 409

    rows = list(csv.DictReader(io.StringIO(client_for(alice).get(f"{url}/payouts.csv").content.decode())))
    assert {r["user"]: Decimal(r["amount"]) for r in rows} == payouts
    board = client_for(alice).get(f"{url}/leaderboard/").json()
    assert board["awarded"] is True
    assert {r["user"]: Decimal(r["payout"]) for r in board["results"] if Decimal(r["payout"]) > 0} == payouts


def test_it_refuses_competition_prizes_before_every_question_is_scored(client_for, organizer, two_questions,
                                                                       closed_question):
    client = client_for(organizer)
    competition = client.post(
        "/api/competitions/",
        {"name": "mixed", "questions": [two_questions[0].pk, closed_question.pk], "pool": "10.00"}, format="json",
    ).json()
    assert client.post(f"/api/competitions/{competition['id']}/prizes/").status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "questions": [], "pool": "1.001"}, "pool"),
        ({"name": "x", "questions": [], "pool": "-1"}, "pool"),
        ({"name": "x", "questions": [987654], "pool": "1.00"}, "questions"),
        ({"name": "", "questions": [], "pool": "1.00"}, "name"),
    ],
)
def test_it_refuses_a_bad_competition_naming_the_field(client_for, organizer, body, field):
    response = client_for(organizer).post("/api/competitions/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_it_lets_only_organizers_create_competitions(client_for, alice):
    response = client_for(alice).post("/api/competitions/", {"name": "x", "questions": [], "pool": "1.00"},
                                      format="json")
    assert response.status_code == 403
