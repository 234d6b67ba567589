"""Fair play for prizes: the sock-puppet scenario of issue #13, the review flags and exclusions.

The expert `buck` signs up from one address and later signs up `buck_alt` (who predicts exactly the posterior buck
goes on to publish) and `buck_ghost` (who posts the evidence buck then gives the most weight) from the same one.
`alice`, an honest commenter from another address with a record elsewhere, predicts close and posts evidence too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from forecasts import demo, prizes, services
from forecasts.models import AuditEvent, Question, Score, Status
from tests.builders import CLOSE, PRIZES, QUESTION

pytestmark = pytest.mark.django_db
User = get_user_model()

BUCKS_ADDRESS = "198.51.100.23"
ALICES_ADDRESS = "203.0.113.5"
PASSWORD = "Tr0mbone-orchard-91"


@dataclass
class Scenario:
    question: Question
    buck: object
    buck_alt: object
    buck_ghost: object
    alice: object


def _register(client_for, name: str, address: str):
    response = client_for().post("/api/auth/register/", {"username": name, "password": PASSWORD}, format="json",
                                 REMOTE_ADDR=address)
    assert response.status_code == 201, response.content
    return User.objects.get(username=name)


def _question(buck, title: str) -> Question:
    question = services.question_create(created_by=buck, closes_at=timezone.now() + timedelta(days=7),
                                        **{**QUESTION, "title": title})
    services.prior_set(question=question, user=buck, spec=demo.COMPUTE_PRIOR)
    return services.question_open(question=question, user=buck)


@pytest.fixture(name="scenario")
def scenario_fixture(django_capture_on_commit_callbacks, client_for) -> Scenario:
    buck = _register(client_for, "buck", BUCKS_ADDRESS)
    alice = _register(client_for, "alice", ALICES_ADDRESS)
    with django_capture_on_commit_callbacks(execute=True):
        # alice has a record: a prediction on an earlier question.
        elsewhere = _question(buck, "An earlier question")
        services.prediction_submit(question=elsewhere, author=alice, spec=CLOSE)
        question = _question(buck, QUESTION["title"])
        # The puppets are made once the question is open, from buck's address.
        buck_alt = _register(client_for, "buck_alt", BUCKS_ADDRESS)
        buck_ghost = _register(client_for, "buck_ghost", BUCKS_ADDRESS)
        ghosts = services.evidence_post(question=question, author=buck_ghost, body="A decisive argument")
        alices = services.evidence_post(question=question, author=alice, body="alice's argument")
        services.prediction_submit(question=question, author=buck_alt, spec=demo.COMPUTE_POSTERIOR)
        services.prediction_submit(question=question, author=alice, spec=CLOSE)
        services.question_close(question=question, user=buck)
        services.posterior_publish(question=question, user=buck, spec=demo.COMPUTE_POSTERIOR, influence=[
            {"evidence": ghosts.pk, "weight": 3.0, "note": "decisive"},
            {"evidence": alices.pk, "weight": 1.0, "note": "helpful"},
        ])
    question.refresh_from_db()
    assert question.status == Status.SCORED
    return Scenario(question=question, buck=buck, buck_alt=buck_alt, buck_ghost=buck_ghost, alice=alice)


def _prizes_url(question, tail: str = "") -> str:
    return f"/api/questions/{question.pk}/prizes/{tail}"


def _draft(client, question) -> dict:
    response = client.post(_prizes_url(question), PRIZES, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _current(client, question, draft_id: int) -> dict:
    rows = client.get(_prizes_url(question)).json()
    return next(row for row in rows if row["id"] == draft_id)


def _paid(body: dict, kind: str) -> dict[str, Decimal]:
    paid: dict[str, Decimal] = {}
    for p in body["payouts"]:
        if p["kind"] == kind:
            paid[p["user"]] = paid.get(p["user"], Decimal("0")) + Decimal(p["amount"])
    return paid


def _flags(body: dict) -> dict[str, dict[str, dict]]:
    by_user: dict[str, dict[str, dict]] = {}
    for flag in body["flags"]:
        by_user.setdefault(flag["user"], {})[flag["kind"]] = flag
    return by_user


def _exclude(client, question, user: str, reason: str = "a second account of the expert"):
    return client.post(_prizes_url(question, "exclusions/"), {"user": user, "reason": reason}, format="json")


# --- the scenario ---------------------------------------------------------------------------------------------------


def test_it_records_the_sign_up_address_of_each_account(scenario):
    assert scenario.buck.account.signup_ip == BUCKS_ADDRESS
    assert scenario.buck_alt.account.signup_ip == BUCKS_ADDRESS
    assert scenario.alice.account.signup_ip == ALICES_ADDRESS


def test_the_second_account_wins_until_the_organizer_looks(client_for, organizer, scenario):
    # The finding of issue #13, kept as the premise: without review, the puppet takes the accuracy prize.
    body = _draft(client_for(organizer), scenario.question)
    assert _paid(body, "accuracy") == {"buck_alt": Decimal("50.00")}
    assert _paid(body, "evidence") == {"buck_ghost": Decimal("37.50"), "alice": Decimal("12.50")}


def test_the_flags_name_the_second_account_and_say_why(client_for, organizer, scenario):
    flags = _flags(_draft(client_for(organizer), scenario.question))
    alt = flags["buck_alt"]
    assert set(alt) == {"near_posterior", "new_account", "no_other_activity", "shared_address_winner"}
    # The stored KL of a copy of the posterior: only the 1% uniform mixed into every prediction separates them.
    kl = Score.objects.get(author=scenario.buck_alt).kl
    assert alt["near_posterior"]["kl"] == pytest.approx(kl) and kl < 0.01
    assert "nats KL from the published posterior" in alt["near_posterior"]["reason"]
    assert "after the question opened" in alt["new_account"]["reason"]
    assert "no evidence and no prediction on any other question" in alt["no_other_activity"]["reason"]
    shared = alt["shared_address_winner"]
    assert "paid 50.00" in shared["reason"] and "same address as the expert" in shared["reason"]
    assert shared["address"] == BUCKS_ADDRESS
    assert not any(f["excluded"] for f in alt.values())


def test_the_flags_name_the_evidence_puppet_and_not_the_honest_commenter(client_for, organizer, scenario):
    flags = _flags(_draft(client_for(organizer), scenario.question))
    ghost = flags["buck_ghost"]
    assert set(ghost) == {"new_account", "no_other_activity", "shared_address_winner", "shared_address_evidence"}
    assert "carries influence weight 3" in ghost["shared_address_evidence"]["reason"]
    # alice predicted close (KL above the threshold), signed up before the question opened, from another address,
    # and has a record elsewhere: nothing to review.
    assert "alice" not in flags
    assert "buck" not in flags


def test_excluding_the_second_account_moves_the_accuracy_prize_to_the_honest_winner(client_for, organizer,
                                                                                   scenario):
    client = client_for(organizer)
    draft = _draft(client, scenario.question)
    response = _exclude(client, scenario.question, "buck_alt", "predicted buck's posterior from buck's address")
    assert response.status_code == 201, response.content
    assert response.json()["user"] == "buck_alt"
    body = _current(client, scenario.question, draft["id"])
    assert _paid(body, "accuracy") == {"alice": Decimal("50.00")}
    # The flags stay, marked excluded; buck_alt is no longer paid, so the winner flag is gone.
    alt = _flags(body)["buck_alt"]
    assert set(alt) == {"near_posterior", "new_account", "no_other_activity"}
    assert all(f["excluded"] for f in alt.values())
    event = AuditEvent.objects.get(action="prizes.exclude")
    assert event.actor == organizer
    assert event.data["user"] == "buck_alt"
    assert event.data["reason"] == "predicted buck's posterior from buck's address"
    assert [r["allocation"] for r in event.data["recomputed"]] == [draft["id"]]


def test_excluding_the_evidence_puppet_leaves_it_nothing(client_for, organizer, scenario):
    client = client_for(organizer)
    draft = _draft(client, scenario.question)
    assert _exclude(client, scenario.question, "buck_ghost").status_code == 201
    body = _current(client, scenario.question, draft["id"])
    assert _paid(body, "evidence") == {"alice": Decimal("50.00")}
    assert "buck_ghost" not in {p["user"] for p in body["payouts"]}


def test_a_draft_made_after_an_exclusion_leaves_them_out_too(client_for, organizer, scenario):
    client = client_for(organizer)
    assert _exclude(client, scenario.question, "buck_alt").status_code == 201
    assert _exclude(client, scenario.question, "BUCK_GHOST").status_code == 201  # names are one whatever the case
    body = _draft(client, scenario.question)
    assert _paid(body, "accuracy") == {"alice": Decimal("50.00")}
    assert _paid(body, "evidence") == {"alice": Decimal("50.00")}
    listed = client.get(_prizes_url(scenario.question, "exclusions/")).json()
    assert [(x["user"], x["created_by"]) for x in listed] == [("buck_alt", "organizer"), ("buck_ghost", "organizer")]


def test_the_award_pays_what_the_recomputed_draft_says(client_for, organizer, scenario):
    client = client_for(organizer)
    draft = _draft(client, scenario.question)
    _exclude(client, scenario.question, "buck_alt")
    awarded = client.post(_prizes_url(scenario.question, "award/"), {"allocation": draft["id"]}, format="json")
    assert awarded.status_code == 200
    assert _paid(awarded.json(), "accuracy") == {"alice": Decimal("50.00")}


# --- who may --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["buck", "alice", "outsider"])
def test_only_organizers_may_exclude_or_list_exclusions(request, client_for, organizer, scenario, persona):
    user = request.getfixturevalue("outsider") if persona == "outsider" else getattr(scenario, persona)
    client = client_for(user)
    assert _exclude(client, scenario.question, "buck_alt").status_code == 403
    assert client.get(_prizes_url(scenario.question, "exclusions/")).status_code == 403
    assert not scenario.question.prize_exclusions.exists()


def test_it_refuses_an_unknown_user_or_a_blank_reason_naming_the_field(client_for, organizer, scenario):
    client = client_for(organizer)
    unknown = _exclude(client, scenario.question, "nobody_here")
    assert unknown.status_code == 400 and "user" in unknown.json()
    blank = _exclude(client, scenario.question, "buck_alt", "   ")
    assert blank.status_code == 400 and "reason" in blank.json()
    assert _exclude(client, scenario.question, "buck_alt").status_code == 201
    again = _exclude(client, scenario.question, "buck_alt")
    assert again.status_code == 400 and "already excluded" in again.json()["user"][0]


def test_it_refuses_an_exclusion_once_awarded(client_for, organizer, scenario):
    client = client_for(organizer)
    _draft(client, scenario.question)
    assert client.post(_prizes_url(scenario.question, "award/"), {}, format="json").status_code == 200
    assert _exclude(client, scenario.question, "buck_alt").status_code == 409
    assert not scenario.question.prize_exclusions.exists()


@pytest.mark.parametrize("persona", ["buck", "alice", "buck_alt", "outsider"])
def test_flags_and_the_sign_up_address_are_shown_to_nobody_but_organizers(request, client_for, organizer, scenario,
                                                                          persona):
    prizes.prizes_award(question=scenario.question, user=organizer,
                        allocation_id=prizes.prizes_draft(question=scenario.question, user=organizer,
                                                          **PRIZES).pk)
    user = request.getfixturevalue("outsider") if persona == "outsider" else getattr(scenario, persona)
    client = client_for(user)
    rows = client.get(_prizes_url(scenario.question)).json()
    assert len(rows) == 1 and rows[0]["flags"] is None
    q = f"/api/questions/{scenario.question.pk}/"
    for path in ["/api/questions/", q, q + "evidence/", q + "predictions/", q + "scores/", q + "leaderboard/",
                 q + "influence/", q + "log/", _prizes_url(scenario.question)]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert BUCKS_ADDRESS not in response.content.decode() and ALICES_ADDRESS not in response.content.decode()
    web = Client()
    web.force_login(user)
    assert BUCKS_ADDRESS not in web.get(f"/questions/{scenario.question.pk}/").content.decode()
    # The organizer, by contrast, is told the shared address.
    assert BUCKS_ADDRESS in client_for(organizer).get(_prizes_url(scenario.question)).content.decode()


# --- the page -------------------------------------------------------------------------------------------------------


def test_the_page_shows_the_flags_and_excludes_through_its_form(client_for, organizer, scenario):
    draft = prizes.prizes_draft(question=scenario.question, user=organizer, **PRIZES)
    web = Client()
    web.force_login(organizer)
    url = f"/questions/{scenario.question.pk}/"
    html = web.get(url).content.decode()
    flags_html = html.split(f'data-testid="flags-{draft.pk}"')[1].split("</ul>")[0]
    assert "buck_alt" in flags_html and "same address as the expert" in flags_html and "alice" not in flags_html
    response = web.post(f"{url}exclude/", {"user": "buck_alt", "reason": "second account"})
    assert response.status_code == 302
    assert {p.user.username for p in draft.payouts.filter(kind="accuracy")} == {"alice"}
    html = web.get(url).content.decode()
    assert "is excluded from this question" in html and "(excluded)" in html


def test_the_page_form_says_why_an_exclusion_was_refused(organizer, scenario):
    web = Client()
    web.force_login(organizer)
    url = f"/questions/{scenario.question.pk}/"
    web.post(f"{url}exclude/", {"user": "buck_alt", "reason": ""})
    html = web.get(url).content.decode()
    assert "reason: must not be blank" in html
    assert not scenario.question.prize_exclusions.exists()
