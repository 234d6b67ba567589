"""Blind weighting, by persona: until the posterior is published the question's expert sees comments under
pseudonyms ("Commenter A", ...) in the API and on the page, with no username or user id anywhere (evidence, replies,
endorsements, the influence form); commenters and organizers see names throughout; everyone sees them afterwards;
a question created with blind=false shows names to its expert."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from forecasts import services
from forecasts.models import Question
from tests.conftest import COMPUTE_QUESTION, POSTERIOR_SPEC, PRIOR_SPEC

pytestmark = pytest.mark.django_db

# Names that cannot occur in a page by accident, so their absence means something.
NAMES = ("quillon", "wrenfold", "zabriskie")


@pytest.fixture(name="people")
def people_fixture(make_user):
    return [make_user(name) for name in NAMES]


def thread(expert, people, *, blind=True):
    """quillon comments, wrenfold replies to it, quillon again, zabriskie last; zabriskie endorses quillon."""
    first, second, third = people
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=7),
                                        blind=blind, **COMPUTE_QUESTION)
    services.prior_set(question=question, user=expert, spec=PRIOR_SPEC)
    services.question_open(question=question, user=expert)
    root = services.evidence_post(question=question, author=first, body="root argument")
    services.evidence_post(question=question, author=second, body="a reply", parent_id=root.pk)
    services.evidence_post(question=question, author=first, body="a second point")
    services.evidence_post(question=question, author=third, body="late argument")
    services.evidence_endorse(evidence=root, user=third)
    return question


def html_for(user, question) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/questions/{question.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def leaks(text: str, people) -> list[str]:
    """Usernames, and user ids written as JSON values of an id-like key, found in a response."""
    found = [name for name in NAMES if name in text]
    for person in people:
        if re.search(rf'"(user|user_id|author|author_id|endorsed_by)"\s*:\s*"?{person.pk}\b', text):
            found.append(f"id {person.pk}")
    return found


def test_it_shows_the_expert_stable_pseudonyms_and_no_way_back_until_the_posterior(
    expert, people, client_for
):
    question = thread(expert, people)
    api = client_for(expert)
    listed = api.get(f"/api/questions/{question.pk}/evidence/")
    assert [e["author"] for e in listed.json()] == ["Commenter A", "Commenter B", "Commenter A", "Commenter C"]
    assert set(listed.json()[0]) == {"id", "question", "author", "parent", "body", "sources", "created_at",
                                     "endorsements"}
    assert not leaks(listed.content.decode(), people)
    # A reply names its parent comment, not its author; the parent's author is the pseudonym too.
    reply = listed.json()[1]
    assert reply["parent"] == listed.json()[0]["id"]
    # The expert's own endorsement answers with the same pseudonyms.
    endorsed = api.post(f"/api/evidence/{listed.json()[3]['id']}/endorse/")
    assert endorsed.status_code == 201 and endorsed.json()["author"] == "Commenter C"
    assert not leaks(endorsed.content.decode(), people)
    # The page, while open and then with the influence form after close.
    html = html_for(expert, question)
    assert "Commenter A" in html and not leaks(html, people)
    services.question_close(question=question, user=expert)
    html = html_for(expert, question)
    assert re.search(r"Weight for #\d+ \(Commenter B\)", html) and not leaks(html, people)
    assert not leaks(api.get(f"/api/questions/{question.pk}/evidence/").content.decode(), people)

    services.posterior_publish(question=question, user=expert, spec=POSTERIOR_SPEC)
    after = api.get(f"/api/questions/{question.pk}/evidence/").json()
    assert [e["author"] for e in after] == ["quillon", "wrenfold", "quillon", "zabriskie"]
    assert "quillon" in html_for(expert, question) and "Commenter A" not in html_for(expert, question)


def test_it_keeps_a_pseudonym_when_new_authors_join(expert, people, client_for, make_user):
    question = thread(expert, people)
    newcomer = make_user("newcomer-x")
    services.evidence_post(question=question, author=newcomer, body="new")
    authors = [e["author"] for e in client_for(expert).get(f"/api/questions/{question.pk}/evidence/").json()]
    assert authors == ["Commenter A", "Commenter B", "Commenter A", "Commenter C", "Commenter D"]


@pytest.mark.parametrize("who", ["commenter", "organizer"])
def test_it_shows_commenters_and_organizers_names_throughout(who, expert, people, organizer, client_for):
    question = thread(expert, people)
    user = people[2] if who == "commenter" else organizer
    for step in ("open", "closed"):
        authors = [e["author"] for e in client_for(user).get(f"/api/questions/{question.pk}/evidence/").json()]
        assert authors == ["quillon", "wrenfold", "quillon", "zabriskie"], step
        assert all(name in html_for(user, question) for name in NAMES), step
        if step == "open":
            services.question_close(question=question, user=expert)


def test_it_shows_names_to_the_expert_of_a_question_created_not_blind(expert, people, client_for):
    question = thread(expert, people, blind=False)
    authors = [e["author"] for e in client_for(expert).get(f"/api/questions/{question.pk}/evidence/").json()]
    assert authors == ["quillon", "wrenfold", "quillon", "zabriskie"]
    services.question_close(question=question, user=expert)
    assert re.search(r"Weight for #\d+ \(wrenfold\)", html_for(expert, question))
    assert "Not blind" in html_for(expert, question)


def test_it_sets_blind_at_creation_true_by_default(expert, client_for):
    api = client_for(expert)
    body = {**COMPUTE_QUESTION, "closes_at": (timezone.now() + timedelta(days=3)).isoformat()}
    assert api.post("/api/questions/", body, format="json").json()["blind"] is True
    created = api.post("/api/questions/", {**body, "blind": False}, format="json")
    assert created.status_code == 201 and created.json()["blind"] is False
    assert Question.objects.get(pk=created.json()["id"]).blind is False


def test_it_offers_the_blind_switch_checked_on_the_new_question_page(expert):
    client = Client()
    client.force_login(expert)
    html = client.get("/questions/new/").content.decode()
    assert re.search(r'<input type="checkbox" name="blind"[^>]*checked', html)
