"""Each role against each write endpoint: the question's expert, a commenter, an organizer, an outsider."""

from __future__ import annotations

import pytest

from tests.conftest import POSTERIOR_SPEC, PRIOR_SPEC

pytestmark = pytest.mark.django_db

PERSONAS = ("expert", "alice", "organizer", "outsider")


@pytest.fixture
def personas(expert, alice, organizer, outsider):
    return {"expert": expert, "alice": alice, "organizer": organizer, "outsider": outsider}


# A draft is visible only to its expert, its creator and organizers: to anyone else it does not exist (404).
@pytest.mark.parametrize(("persona", "expected"), [("expert", 200), ("alice", 404), ("organizer", 403),
                                                   ("outsider", 404)])
def test_only_the_expert_sets_the_prior(client_for, personas, draft_question, persona, expected):
    response = client_for(personas[persona]).put(
        f"/api/questions/{draft_question.pk}/prior/", {"spec": PRIOR_SPEC}, format="json")
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(("persona", "expected"), [("expert", 200), ("alice", 404), ("organizer", 200),
                                                   ("outsider", 404)])
def test_the_expert_or_an_organizer_opens(client_for, personas, draft_question, expert, persona, expected):
    from forecasts import services

    services.prior_set(question=draft_question, user=expert, spec=PRIOR_SPEC)
    response = client_for(personas[persona]).post(f"/api/questions/{draft_question.pk}/open/")
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(("persona", "expected"), [("expert", 200), ("alice", 403), ("organizer", 200),
                                                   ("outsider", 403)])
def test_the_expert_or_an_organizer_closes(client_for, personas, open_question, persona, expected):
    response = client_for(personas[persona]).post(f"/api/questions/{open_question.pk}/close/")
    assert response.status_code == expected, response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_any_signed_in_user_posts_evidence(client_for, personas, open_question, persona):
    response = client_for(personas[persona]).post(
        f"/api/questions/{open_question.pk}/evidence/", {"body": "A source worth reading."}, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(("persona", "expected"), [("expert", 403), ("alice", 201), ("organizer", 201),
                                                   ("outsider", 201)])
def test_everyone_but_the_expert_predicts(client_for, personas, open_question, persona, expected):
    response = client_for(personas[persona]).post(
        f"/api/questions/{open_question.pk}/predictions/", {"spec": POSTERIOR_SPEC}, format="json")
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(("persona", "expected"), [("expert", 200), ("alice", 403), ("organizer", 403),
                                                   ("outsider", 403)])
def test_only_the_expert_publishes_the_posterior(client_for, personas, closed_question, persona, expected):
    response = client_for(personas[persona]).put(
        f"/api/questions/{closed_question.pk}/posterior/", {"spec": POSTERIOR_SPEC}, format="json")
    assert response.status_code == expected, response.content


def test_anonymous_writes_are_401(client_for, open_question):
    client = client_for()
    assert client.post(f"/api/questions/{open_question.pk}/evidence/", {"body": "x"}, format="json"
                       ).status_code == 401
    assert client.post(f"/api/questions/{open_question.pk}/predictions/", {"spec": POSTERIOR_SPEC}, format="json"
                       ).status_code == 401


def test_others_predictions_stay_hidden_until_the_posterior(client_for, open_question, alice, bob, expert,
                                                            organizer):
    client_for(alice).post(f"/api/questions/{open_question.pk}/predictions/", {"spec": POSTERIOR_SPEC},
                           format="json")
    url = f"/api/questions/{open_question.pk}/predictions/"
    assert len(client_for(alice).get(url).json()) == 1
    assert client_for(bob).get(url).json() == []
    assert client_for(expert).get(url).json() == []
    assert client_for(organizer).get(url).json() == []  # organizers may predict: no early view for them
    client_for(expert).post(f"/api/questions/{open_question.pk}/close/")
    assert client_for(bob).get(url).json() == []
    assert client_for(expert).get(url).json() == []  # the posterior must not be anchored on the crowd
    client_for(expert).put(f"/api/questions/{open_question.pk}/posterior/", {"spec": POSTERIOR_SPEC}, format="json")
    assert len(client_for(bob).get(url).json()) == 1
    assert len(client_for(expert).get(url).json()) == 1


def test_a_draft_is_invisible_to_others(client_for, draft_question, alice, expert):
    assert client_for(alice).get(f"/api/questions/{draft_question.pk}/").status_code == 404
    assert client_for(expert).get(f"/api/questions/{draft_question.pk}/").status_code == 200


def test_writing_to_a_draft_one_cannot_see_is_a_404_and_writes_nothing(client_for, draft_question, alice):
    # The submission and evidence paths read the question themselves (under its lock), not through the viewset's
    # visibility-filtered get_object: they must say the same 404, and for an unknown id too.
    from forecasts.models import AuditEvent, Evidence, LogEntry, Prediction

    before = (Evidence.objects.count(), Prediction.objects.count(), LogEntry.objects.count(),
              AuditEvent.objects.count())
    for pk in (draft_question.pk, 999_999):
        evidence = client_for(alice).post(f"/api/questions/{pk}/evidence/", {"body": "an argument"}, format="json")
        prediction = client_for(alice).post(f"/api/questions/{pk}/predictions/",
                                            {"spec": {"type": "lognormal", "median": 1e9, "sigma": 2}}, format="json")
        assert (evidence.status_code, prediction.status_code) == (404, 404)
    assert (Evidence.objects.count(), Prediction.objects.count(), LogEntry.objects.count(),
            AuditEvent.objects.count()) == before


def test_only_organizers_create_a_question_for_another_expert(client_for, alice, organizer, expert):
    body = {"title": "T", "scale": "linear", "lower": 0, "upper": 10, "closes_at": "2999-01-01T00:00:00Z",
            "expert": "expert"}
    refused = client_for(alice).post("/api/questions/", body, format="json")
    assert refused.status_code == 403  # a role rule, not bad input
    assert "expert" in refused.json()["detail"]
    created = client_for(organizer).post("/api/questions/", body, format="json")
    assert created.status_code == 201
    assert created.json()["expert"] == "expert"


@pytest.mark.parametrize(("persona", "expected"), [("expert", 201), ("alice", 400), ("organizer", 201),
                                                   ("outsider", 201)])
def test_anyone_but_its_author_marks_evidence_as_mind_changing(client_for, personas, open_question, persona,
                                                                expected):
    from forecasts import services

    evidence = services.evidence_post(question=open_question, author=personas["alice"], body="A source.")
    response = client_for(personas[persona]).post(f"/api/evidence/{evidence.pk}/endorse/")
    assert response.status_code == expected, response.content
    if expected == 201:
        assert response.json()["endorsements"] == 1
        again = client_for(personas[persona]).post(f"/api/evidence/{evidence.pk}/endorse/")
        assert again.json()["endorsements"] == 1  # once per person


def test_marking_evidence_needs_sign_in_and_an_open_question(client_for, open_question, alice, bob, expert):
    from forecasts import services

    evidence = services.evidence_post(question=open_question, author=alice, body="A source.")
    assert client_for().post(f"/api/evidence/{evidence.pk}/endorse/").status_code == 401
    services.question_close(question=open_question, user=expert)
    assert client_for(bob).post(f"/api/evidence/{evidence.pk}/endorse/").status_code == 409
