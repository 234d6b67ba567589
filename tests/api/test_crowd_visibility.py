"""Who sees the crowd: others' predictions and the pooled forecast are public once the posterior is published.

Until then each author sees only their own predictions, and nobody else sees any: not the expert (an anchored
posterior spoils the measurement), not an organizer (who may predict, and could copy the crowd), not a commenter
after close (whatever they see could reach the expert before the posterior).
"""

from __future__ import annotations

import pytest

from forecasts import services
from tests.conftest import POSTERIOR_SPEC

pytestmark = pytest.mark.django_db

PERSONAS = ("expert", "alice", "bob", "organizer", "outsider")


@pytest.fixture
def personas(expert, alice, bob, organizer, outsider):
    return {"expert": expert, "alice": alice, "bob": bob, "organizer": organizer, "outsider": outsider}


@pytest.fixture
def closed_with_crowd(django_capture_on_commit_callbacks, open_question, expert, alice, bob):
    """alice and bob predicted; the question is closed and its pooled forecast computed (the final refresh ran)."""
    with django_capture_on_commit_callbacks(execute=True):
        services.prediction_submit(question=open_question, author=alice, spec=POSTERIOR_SPEC)
        services.prediction_submit(question=open_question, author=bob, spec=POSTERIOR_SPEC)
        services.question_close(question=open_question, user=expert)
    open_question.refresh_from_db()
    assert open_question.aggregate.n_predictions == 2
    return open_question


def _authors(client, question) -> list[str]:
    return sorted(row["author"] for row in client.get(f"/api/questions/{question.pk}/predictions/").json())


@pytest.mark.parametrize(("persona", "authors"), [("expert", []), ("alice", ["alice"]), ("bob", []),
                                                  ("organizer", []), ("outsider", [])])
def test_it_shows_each_author_only_their_own_predictions_while_open(client_for, personas, open_question, alice,
                                                                     persona, authors):
    services.prediction_submit(question=open_question, author=alice, spec=POSTERIOR_SPEC)
    assert _authors(client_for(personas[persona]), open_question) == authors


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_hides_the_pooled_forecast_from_everyone_while_open(client_for, personas, open_question, alice, persona):
    services.prediction_submit(question=open_question, author=alice, spec=POSTERIOR_SPEC)
    response = client_for(personas[persona]).get(f"/api/questions/{open_question.pk}/aggregate/")
    assert response.status_code == 409, response.content


@pytest.mark.parametrize(("persona", "authors"), [("expert", []), ("alice", ["alice"]), ("bob", ["bob"]),
                                                  ("organizer", []), ("outsider", [])])
def test_it_keeps_others_predictions_hidden_after_close_until_the_posterior(client_for, personas, closed_with_crowd,
                                                                            persona, authors):
    assert _authors(client_for(personas[persona]), closed_with_crowd) == authors


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_keeps_the_pooled_forecast_hidden_after_close_until_the_posterior(client_for, personas,
                                                                             closed_with_crowd, persona):
    client = client_for(personas[persona])
    response = client.get(f"/api/questions/{closed_with_crowd.pk}/aggregate/")
    assert response.status_code == 409, response.content
    assert "posterior" in response.json()["detail"]
    assert client.get(f"/api/questions/{closed_with_crowd.pk}/export/metaculus/").json()["aggregate"] is None


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_shows_the_crowd_to_everyone_once_the_posterior_is_published(client_for, personas, closed_with_crowd,
                                                                         expert, persona):
    services.posterior_publish(question=closed_with_crowd, user=expert, spec=POSTERIOR_SPEC)  # status: resolved
    client = client_for(personas[persona])
    assert _authors(client, closed_with_crowd) == ["alice", "bob"]
    response = client.get(f"/api/questions/{closed_with_crowd.pk}/aggregate/")
    assert response.status_code == 200, response.content
    assert response.json()["n_predictions"] == 2
    assert client.get(f"/api/questions/{closed_with_crowd.pk}/export/metaculus/").json()["aggregate"] is not None


def test_the_question_page_hides_the_pooled_forecast_from_the_expert_until_the_posterior(
        client, closed_with_crowd, expert):
    client.force_login(expert)
    page = client.get(f"/questions/{closed_with_crowd.pk}/")
    assert page.status_code == 200
    assert b'data-testid="aggregate-row"' not in page.content
    services.posterior_publish(question=closed_with_crowd, user=expert, spec=POSTERIOR_SPEC)
    assert b'data-testid="aggregate-row"' in client.get(f"/questions/{closed_with_crowd.pk}/").content
