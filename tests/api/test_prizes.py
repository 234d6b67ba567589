"""Prizes through the HTTP API: who may compute and award, refused input, exact cents, the draw, finality."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from amplification import allocation
from forecasts import prizes, runs, services
from forecasts.models import Job, Payout, Prediction, PrizeAllocation, Question, Score, Status
from tests.builders import (
    AS_INTERVAL,
    AS_QUANTILES,
    CLOSE,
    PRIZES,
    WRONG_WAY,
    build_scored_question,
)
from tests.factories import EvidenceFactory

pytestmark = pytest.mark.django_db


def _prizes_url(question: Question) -> str:
    return f"/api/questions/{question.pk}/prizes/"


def _draft(client, question, **overrides):
    return client.post(_prizes_url(question), {**PRIZES, **overrides}, format="json")


def _paid(body: dict, kind: str) -> dict[str, Decimal]:
    return {p["user"]: Decimal(p["amount"]) for p in body["payouts"] if p["kind"] == kind}


# --- who may ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("expert", 403), ("alice", 403), ("outsider", 403), ("organizer", 201), ("staff", 201)],
)
def test_it_lets_only_organizers_compute_prizes(request, client_for, scored_question, persona, expected):
    response = _draft(client_for(request.getfixturevalue(persona)), scored_question)
    assert response.status_code == expected, response.content
    assert PrizeAllocation.objects.count() == (1 if expected == 201 else 0)


@pytest.mark.parametrize("persona", ["expert", "alice", "outsider"])
def test_it_lets_only_organizers_award(request, client_for, scored_question, organizer, persona):
    assert _draft(client_for(organizer), scored_question).status_code == 201
    response = client_for(request.getfixturevalue(persona)).post(_prizes_url(scored_question) + "award/")
    assert response.status_code == 403, response.content
    scored_question.refresh_from_db()
    assert scored_question.status == Status.SCORED


def test_it_refuses_anonymous_callers(client_for, scored_question):
    assert _draft(client_for(), scored_question).status_code == 401


# --- refused input ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"accuracy_pool": "50.001"}, "accuracy_pool"),
        ({"evidence_pool": 12.345}, "evidence_pool"),
        ({"accuracy_pool": "-1.00"}, "accuracy_pool"),
        ({"evidence_pool": -5}, "evidence_pool"),
        ({"accuracy_pool": "NaN"}, "accuracy_pool"),
        ({"accuracy_pool": "Infinity"}, "accuracy_pool"),
        ({"accuracy_rule": "loudest_wins"}, "accuracy_rule"),
        ({"evidence_rule": "lottery"}, "evidence_rule"),
        ({"accuracy_rule": "top_k"}, "shares"),
        ({"accuracy_rule": "top_k", "shares": [0.5, 0.3]}, "shares"),
        ({"accuracy_rule": "top_k", "shares": [0.2, 0.8]}, "shares"),
        ({"shares": [1.0]}, "shares"),
        ({"accuracy_rule": "proportional_skill", "power": 0}, "power"),
        ({"accuracy_rule": "proportional_skill", "power": -2}, "power"),
        ({"accuracy_rule": "proportional_skill", "min_payout": "-0.01"}, "min_payout"),
        ({"accuracy_rule": "proportional_skill", "min_payout": "1000.00"}, "min_payout"),
        ({"currency": "dollars"}, "currency"),
    ],
)
def test_it_refuses_bad_input_naming_the_field(client_for, organizer, scored_question, overrides, field):
    response = _draft(client_for(organizer), scored_question, **overrides)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert PrizeAllocation.objects.count() == 0
    assert not Job.objects.filter(kind=Job.Kind.PRIZES).exists()


def test_it_refuses_a_pool_with_three_decimals(client_for, organizer, scored_question):
    response = _draft(client_for(organizer), scored_question, accuracy_pool="33.333")
    assert response.status_code == 400
    assert "accuracy_pool" in response.json()


def test_it_refuses_an_unknown_rule(client_for, organizer, scored_question):
    response = _draft(client_for(organizer), scored_question, accuracy_rule="most_votes")
    assert response.status_code == 400
    assert "accuracy_rule" in response.json()


def test_it_refuses_to_compute_before_the_question_is_scored(client_for, organizer, closed_question):
    response = _draft(client_for(organizer), closed_question)
    assert response.status_code == 409, response.content
    assert PrizeAllocation.objects.count() == 0


# --- amounts ----------------------------------------------------------------------------------------------------------


def test_it_pays_the_reference_split(client_for, organizer, scored_question):
    response = _draft(client_for(organizer), scored_question)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "draft"
    assert body["currency"] == "USD"
    assert (body["accuracy_pool"], body["evidence_pool"]) == ("50.00", "50.00")
    assert _paid(body, "accuracy") == {"alice": Decimal("50.00")}
    # Weights 3:1:0; carol's 0.00 gets no payout row.
    assert _paid(body, "evidence") == {"alice": Decimal("37.50"), "bob": Decimal("12.50")}
    assert all(p["amount"].count(".") == 1 and len(p["amount"].split(".")[1]) == 2 for p in body["payouts"])
    assert body["draw"] is None
    assert body["unallocated"] == {}
    assert Job.objects.get(pk=body["job"]).state == Job.State.DONE


@pytest.mark.parametrize(
    "overrides",
    [
        {"accuracy_pool": "100.00", "evidence_pool": "100.00", "accuracy_rule": "proportional_skill"},
        {"accuracy_pool": "33.33", "evidence_pool": "0.07", "accuracy_rule": "top_k", "shares": [0.5, 0.3, 0.2]},
        {"accuracy_pool": "1000000.01", "evidence_pool": "99.99", "accuracy_rule": "proportional_skill",
         "power": 0.5},
        {"accuracy_pool": "10.00", "evidence_pool": "10.01", "evidence_rule": "draw"},
    ],
)
def test_it_pays_each_pool_exactly(client_for, organizer, scored_question, overrides):
    response = _draft(client_for(organizer), scored_question, **overrides)
    assert response.status_code == 201, response.content
    body = response.json()
    for kind in ("accuracy", "evidence"):
        amounts = [Decimal(p["amount"]) for p in body["payouts"] if p["kind"] == kind]
        assert sum(amounts) == Decimal(body[f"{kind}_pool"])
        assert all(a == a.quantize(Decimal("0.01")) and a > 0 for a in amounts)


def test_it_pays_top_k_by_lowest_kl(client_for, organizer, scored_question):
    body = _draft(client_for(organizer), scored_question, accuracy_pool="100.00", accuracy_rule="top_k",
                  shares=[0.5, 0.3, 0.2]).json()
    ranks = {s.author.username: s.rank for s in Score.objects.filter(question=scored_question)}
    by_rank = sorted(ranks, key=ranks.get)
    paid = _paid(body, "accuracy")
    assert [paid[name] for name in by_rank] == [Decimal("50.00"), Decimal("30.00"), Decimal("20.00")]


def test_it_pays_proportional_skill_only_to_positive_skill(client_for, organizer, scored_question):
    body = _draft(client_for(organizer), scored_question, accuracy_pool="100.00",
                  accuracy_rule="proportional_skill").json()
    skills = {s.author.username: s.skill for s in Score.objects.filter(question=scored_question)}
    positive = {name for name, skill in skills.items() if skill > 0}
    assert set(_paid(body, "accuracy")) == positive
    assert "carol" not in positive  # moved the wrong way


def test_it_pays_tied_predictions_equally(django_capture_on_commit_callbacks, client_for, expert, alice, bob,
                                          organizer):
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: CLOSE, bob: CLOSE})
    body = _draft(client_for(organizer), question, evidence_pool="0.00").json()
    assert _paid(body, "accuracy") == {"alice": Decimal("25.00"), "bob": Decimal("25.00")}
    body = _draft(client_for(organizer), question, accuracy_rule="proportional_skill",
                  accuracy_pool="40.00", evidence_pool="0.00").json()
    assert _paid(body, "accuracy") == {"alice": Decimal("20.00"), "bob": Decimal("20.00")}


def _current_prediction(question: Question, user) -> Prediction:
    return Prediction.objects.get(question=question, author=user, is_current=True)


@pytest.fixture
def one_distribution_two_ways(django_capture_on_commit_callbacks, expert, alice, bob, carol):
    """alice enters a lognormal as a low/high interval, bob the same lognormal as three quantiles, carol the wrong way.

    alice resubmits until her prediction id has more digits than bob's and so comes first as text ("10" < "9"):
    the odd cent of their tie must still go to bob's smaller id.
    """

    def resubmit_alice(question: Question) -> None:
        bob_id = _current_prediction(question, bob).pk
        while True:
            alice_id = _current_prediction(question, alice).pk
            if str(alice_id) < str(bob_id) and alice_id > bob_id:
                return
            services.prediction_submit(question=question, author=alice, spec=AS_INTERVAL)

    # carol first, so bob's id is not a prefix of alice's ("1" < "10" as text too).
    return build_scored_question(
        django_capture_on_commit_callbacks, expert=expert,
        predictions={carol: WRONG_WAY, bob: AS_QUANTILES, alice: AS_INTERVAL}, before_close=resubmit_alice,
    )


def test_it_splits_winner_takes_all_between_one_distribution_entered_two_ways(client_for, organizer,
                                                                              one_distribution_two_ways):
    question = one_distribution_two_ways
    scores = {s.author.username: s for s in Score.objects.filter(question=question)}
    assert scores["alice"].kl == pytest.approx(scores["bob"].kl, rel=1e-13)  # equal but for float noise
    assert {name: s.rank for name, s in scores.items()} == {"alice": 1, "bob": 1, "carol": 3}

    body = _draft(client_for(organizer), question, accuracy_pool="50.01", evidence_pool="0.00").json()
    # Tied at rank 1: half each, and the odd cent to the smaller prediction id by number (bob's), not as text.
    assert scores["bob"].prediction_id < scores["alice"].prediction_id
    assert _paid(body, "accuracy") == {"bob": Decimal("25.01"), "alice": Decimal("25.00")}


def test_it_pools_top_k_shares_of_one_distribution_entered_two_ways(client_for, organizer,
                                                                    one_distribution_two_ways):
    body = _draft(client_for(organizer), one_distribution_two_ways, accuracy_pool="100.00", accuracy_rule="top_k",
                  shares=[0.5, 0.3, 0.2], evidence_pool="0.00").json()
    # alice and bob share ranks 1 and 2: (50 + 30) / 2 each; carol, at rank 3, gets rank 3's share.
    assert _paid(body, "accuracy") == {"alice": Decimal("40.00"), "bob": Decimal("40.00"), "carol": Decimal("20.00")}


def test_it_pays_one_distribution_entered_two_ways_equal_skill_shares(client_for, organizer,
                                                                       one_distribution_two_ways):
    body = _draft(client_for(organizer), one_distribution_two_ways, accuracy_pool="100.01",
                  accuracy_rule="proportional_skill", evidence_pool="0.00").json()
    # carol's skill is negative; the other two weigh the same, and the odd cent goes to bob's smaller id.
    assert _paid(body, "accuracy") == {"bob": Decimal("50.01"), "alice": Decimal("50.00")}


def test_it_leaves_the_evidence_pool_unallocated_without_positive_weights(
    django_capture_on_commit_callbacks, client_for, expert, alice, bob, organizer
):
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: CLOSE}, evidence={alice: 0.0, bob: 0.0})
    for rule in ("proportional", "draw"):
        response = _draft(client_for(organizer), question, evidence_rule=rule)
        assert response.status_code == 201, response.content
        body = response.json()
        assert "evidence" in body["unallocated"]
        assert _paid(body, "evidence") == {}
        assert _paid(body, "accuracy") == {"alice": Decimal("50.00")}


def test_it_recomputes_the_same_payouts_when_the_job_runs_again(client_for, organizer, scored_question):
    body = _draft(client_for(organizer), scored_question, evidence_rule="draw").json()
    allocation_row = PrizeAllocation.objects.get(pk=body["id"])

    def rows():
        return sorted(allocation_row.payouts.values_list("user_id", "kind", "amount", "prediction_id", "evidence_id"))

    before = rows()
    # As if the worker died mid-run (its heartbeat went stale) and the job was delivered again.
    Job.objects.filter(pk=body["job"]).update(state=Job.State.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1))
    prizes.prizes_compute_job(job_id=body["job"])
    assert rows() == before
    allocation_row.refresh_from_db()
    assert allocation_row.draw["winner"] == body["draw"]["winner"]
    # A finished job is not run again.
    assert prizes.prizes_compute_job(job_id=body["job"]) is None


# --- the draw ---------------------------------------------------------------------------------------------------------


def test_it_lets_anyone_rerun_the_draw_from_the_published_seed(client_for, organizer, alice, scored_question):
    commitment_at_open = client_for(alice).get(f"/api/questions/{scored_question.pk}/").json()["draw_commitment"]
    draft = _draft(client_for(organizer), scored_question, evidence_rule="draw").json()
    # The seed stays secret until the award, also from the draft's transcript.
    assert draft["draw"]["seed"] is None and draft["draw"]["message"] is None
    awarded = client_for(organizer).post(_prizes_url(scored_question) + "award/", {"allocation": draft["id"]},
                                         format="json")
    assert awarded.status_code == 200, awarded.content

    # Everything below is public to any signed-in commenter.
    question = client_for(alice).get(f"/api/questions/{scored_question.pk}/").json()
    seed = question["draw_seed"]
    assert allocation.seed_commitment(seed) == commitment_at_open == question["draw_commitment"]
    influence = client_for(alice).get(f"/api/questions/{scored_question.pk}/influence/").json()
    weights = {str(row["evidence"]): row["weight"] for row in influence}
    transcript = client_for(alice).get(_prizes_url(scored_question)).json()[0]["draw"]
    assert transcript["seed"] == seed
    winner = allocation.draw_winner(seed, weights)
    assert winner == transcript["winner"]
    [payout] = [p for p in awarded.json()["payouts"] if p["kind"] == "evidence"]
    assert str(payout["evidence"]) == winner
    assert payout["amount"] == "50.00"


# --- finality ---------------------------------------------------------------------------------------------------------


def test_it_refuses_a_second_award(client_for, organizer, scored_question):
    client = client_for(organizer)
    first = _draft(client, scored_question).json()
    assert client.post(_prizes_url(scored_question) + "award/").status_code == 200
    rows = Payout.objects.count()

    again = client.post(_prizes_url(scored_question) + "award/", {"allocation": first["id"]}, format="json")
    assert again.status_code == 409, again.content
    assert client.post(_prizes_url(scored_question) + "award/").status_code == 409
    assert Payout.objects.count() == rows
    assert PrizeAllocation.objects.filter(state="awarded").count() == 1


def test_it_refuses_a_second_award_at_the_database_too(organizer, scored_question):
    first = prizes.prizes_draft(question=scored_question, user=organizer, **PRIZES)
    second = prizes.prizes_draft(question=scored_question, user=organizer, **PRIZES)
    prizes.prizes_award(question=scored_question, user=organizer, allocation_id=first.pk)
    # As if a second writer had passed the status check before the first committed: the constraint still holds.
    Question.objects.filter(pk=scored_question.pk).update(status=Status.SCORED)
    with pytest.raises(prizes.Conflict):
        prizes.prizes_award(question=scored_question, user=organizer, allocation_id=second.pk)
    assert PrizeAllocation.objects.filter(state="awarded").count() == 1


def test_it_awards_the_latest_draft_by_default(client_for, organizer, scored_question):
    client = client_for(organizer)
    _draft(client, scored_question)
    latest = _draft(client, scored_question, evidence_rule="draw").json()
    response = client.post(_prizes_url(scored_question) + "award/")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["state"]) == (latest["id"], "awarded")
    assert body["draw"]["seed"] == Question.objects.get(pk=scored_question.pk).draw_seed
    question = client.get(f"/api/questions/{scored_question.pk}/").json()
    assert question["status"] == "awarded" and question["awarded_at"]


def test_it_refuses_writes_after_the_award(client_for, expert, organizer, scored_question):
    client = client_for(organizer)
    _draft(client, scored_question)
    assert client.post(_prizes_url(scored_question) + "award/").status_code == 200
    scores_before = sorted(Score.objects.values_list("prediction_id", "kl", "skill", "rank"))

    posterior = client_for(expert).put(f"/api/questions/{scored_question.pk}/posterior/",
                                       {"spec": CLOSE, "influence": []}, format="json")
    assert posterior.status_code == 409
    assert _draft(client, scored_question).status_code == 409
    assert PrizeAllocation.objects.count() == 1
    # A late duplicate scoring job changes nothing.
    job = Job.objects.create(question=scored_question, kind=Job.Kind.SCORE)
    runs.question_score(job_id=job.pk)
    assert sorted(Score.objects.values_list("prediction_id", "kl", "skill", "rank")) == scores_before
    # Nor does re-running the awarded allocation's prize job.
    awarded = PrizeAllocation.objects.get()
    payouts_before = sorted(awarded.payouts.values_list("user_id", "kind", "amount"))
    Job.objects.filter(pk=awarded.params["job"]).update(state=Job.State.RUNNING,
                                                        heartbeat_at=timezone.now() - timedelta(hours=1))
    prizes.prizes_compute_job(job_id=awarded.params["job"])
    assert sorted(awarded.payouts.values_list("user_id", "kind", "amount")) == payouts_before


def test_it_shows_drafts_to_organizers_only(client_for, organizer, alice, scored_question):
    _draft(client_for(organizer), scored_question)
    assert len(client_for(organizer).get(_prizes_url(scored_question)).json()) == 1
    assert client_for(alice).get(_prizes_url(scored_question)).json() == []


# --- audit and exports ------------------------------------------------------------------------------------------------


def test_it_logs_each_step_in_the_audit(client_for, organizer, alice, scored_question):
    client = client_for(organizer)
    _draft(client, scored_question)
    client.post(_prizes_url(scored_question) + "award/")

    events = client.get(f"/api/questions/{scored_question.pk}/audit/").json()
    actions = [e["action"] for e in events]
    for step in ("question.create", "prior.set", "question.open", "evidence.post", "prediction.submit",
                 "question.close", "posterior.publish", "scores.compute", "prizes.draft", "prizes.compute",
                 "prizes.award"):
        assert step in actions, actions
    assert actions.index("prizes.draft") < actions.index("prizes.compute") < actions.index("prizes.award")
    award = next(e for e in events if e["action"] == "prizes.award")
    assert award["actor"] == "organizer"
    assert award["data"]["draw_seed"] == Question.objects.get(pk=scored_question.pk).draw_seed

    response = client.get(f"/api/questions/{scored_question.pk}/audit.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["id", "at", "actor", "action", "data"]
    assert [r[3] for r in rows[1:]] == actions

    assert client_for(alice).get(f"/api/questions/{scored_question.pk}/audit/").status_code == 403
    assert client_for(alice).get(f"/api/questions/{scored_question.pk}/audit.csv").status_code == 403


def test_it_exports_the_payouts_once_awarded(client_for, organizer, alice, scored_question):
    client = client_for(organizer)
    _draft(client, scored_question)
    url = f"/api/questions/{scored_question.pk}/payouts.csv"
    assert client_for(alice).get(url).status_code == 409
    client.post(_prizes_url(scored_question) + "award/")

    response = client_for(alice).get(url)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {(r["user"], r["kind"], r["amount"]) for r in rows} == {
        ("alice", "accuracy", "50.00"), ("alice", "evidence", "37.50"), ("bob", "evidence", "12.50")
    }
    assert {r["currency"] for r in rows} == {"USD"}


def test_it_lists_influence_weights_and_notes_once_the_posterior_is_out(client_for, alice, scored_question,
                                                                        open_question):
    rows = client_for(alice).get(f"/api/questions/{scored_question.pk}/influence/").json()
    assert {(r["author"], r["weight"], r["note"]) for r in rows} == {
        ("alice", 3.0, "alice moved me"), ("bob", 1.0, "bob moved me"), ("carol", 0.0, "carol moved me")
    }
    assert client_for(alice).get(f"/api/questions/{open_question.pk}/influence/").status_code == 409


def test_influence_stored_on_the_experts_own_evidence_earns_nothing(django_capture_on_commit_callbacks, client_for,
                                                                      expert, alice, organizer):
    # posterior_publish refuses such influence today; a row from before that rule must not be paid either.
    from forecasts.models import Influence

    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: CLOSE}, evidence={alice: 1})
    own = EvidenceFactory(question=question, author=expert)
    Influence.objects.create(question=question, evidence=own, weight=99)
    body = _draft(client_for(organizer), question).json()
    assert _paid(body, "evidence") == {"alice": Decimal("50.00")}
