"""Errors of list fields and of lists of objects come back flat, `{path: [message]}`, the paths the services use."""

from __future__ import annotations

import pytest

from forecasts.models import Evidence, Posterior, Prediction
from tests.conftest import POSTERIOR_SPEC
from tests.factories import EvidenceFactory

pytestmark = pytest.mark.django_db


def test_a_bad_item_of_a_list_is_named_by_its_index(client_for, open_question, alice):
    response = client_for(alice).post(f"/api/questions/{open_question.pk}/predictions/",
                                      {"spec": POSTERIOR_SPEC, "evidence": [1, "two"]}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"evidence[1]"}
    assert all(isinstance(m, str) for m in response.json()["evidence[1]"])
    assert not Prediction.objects.exists()


def test_a_bad_source_url_is_named_by_its_index(client_for, open_question, alice):
    response = client_for(alice).post(f"/api/questions/{open_question.pk}/evidence/",
                                      {"body": "b", "sources": ["https://example.org/", "not a url"]}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"sources[1]"}
    assert not Evidence.objects.exists()


@pytest.mark.parametrize("weight", [True, False, "heavy", None, [1]])
def test_an_influence_weight_must_be_a_number(client_for, closed_question, expert, alice, weight):
    evidence = EvidenceFactory(question=closed_question, author=alice)
    response = client_for(expert).put(f"/api/questions/{closed_question.pk}/posterior/", {
        "spec": POSTERIOR_SPEC,
        "influence": [{"evidence": evidence.pk, "weight": 1}, {"evidence": evidence.pk, "weight": weight}],
    }, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["influence[1].weight"]
    assert not Posterior.objects.exists()
