"""The expert's influence weights decide the evidence prize, so the expert cannot give weight to their own evidence."""

from __future__ import annotations

import pytest

from forecasts import services
from forecasts.models import Influence, Posterior
from tests.conftest import POSTERIOR_SPEC
from tests.factories import EvidenceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("weight", [1, 0])
def test_it_refuses_influence_on_the_experts_own_evidence(client_for, closed_question, expert, alice, weight):
    # Otherwise the expert could post evidence, weigh it, and have the prize draft pay the evidence pool to them.
    theirs = EvidenceFactory(question=closed_question, author=alice)
    own = EvidenceFactory(question=closed_question, author=expert)
    response = client_for(expert).put(
        f"/api/questions/{closed_question.pk}/posterior/",
        {"spec": POSTERIOR_SPEC,
         "influence": [{"evidence": theirs.pk, "weight": 1}, {"evidence": own.pk, "weight": weight}]},
        format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {"influence[1].evidence": ["the expert's own evidence cannot carry influence"]}
    assert not Posterior.objects.exists()
    assert not Influence.objects.exists()
    closed_question.refresh_from_db()
    assert closed_question.status == "closed"


def test_it_takes_influence_on_evidence_by_anyone_else(closed_question, expert, alice, organizer):
    rows = [EvidenceFactory(question=closed_question, author=author) for author in (alice, organizer)]
    services.posterior_publish(question=closed_question, user=expert, spec=POSTERIOR_SPEC,
                               influence=[{"evidence": e.pk, "weight": 1} for e in rows])
    assert sorted(Influence.objects.values_list("evidence_id", flat=True)) == sorted(e.pk for e in rows)


def test_the_question_page_offers_no_weight_for_the_experts_own_evidence(client, closed_question, expert, alice):
    theirs = EvidenceFactory(question=closed_question, author=alice)
    own = EvidenceFactory(question=closed_question, author=expert)
    client.force_login(expert)
    page = client.get(f"/questions/{closed_question.pk}/").content.decode()
    assert f'name="influence-{theirs.pk}"' in page
    assert f'name="influence-{own.pk}"' not in page
