"""The forecast log through the API, checked by the very snippet docs/forecast-log.md publishes: the expert sets a
prior three times, commenters post evidence and predictions (some replaced), the question closes and the posterior is
published; an outsider recomputes every digest and finds `closed_head` in the chain. The digests are recomputed from
the objects' own endpoints, not copied from the log, so a row edited in the database after close breaks the chain."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from forecasts import services
from forecasts.models import Evidence, Prediction, Status
from tests.conftest import COMPUTE_QUESTION, POSTERIOR_SPEC, PRIOR_SPEC

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[2] / "docs" / "forecast-log.md"
PRIORS = [{"type": "lognormal", "median": 1e8, "sigma": 3.0}, {"type": "lognormal", "median": 3e8, "sigma": 2.5},
          PRIOR_SPEC]
NARROW = {"type": "lognormal", "median": 2e9, "sigma": 1.0}
WIDE = {"type": "lognormal", "median": 5e8, "sigma": 3.0}


def docs_verifier(client):
    """docs/forecast-log.md's code block, run as published, with its `get` answered by the test server."""
    code = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # our own documentation, run as published

    def get(path):
        response = client.get("/api" + path)
        assert response.status_code == 200, (path, response.status_code, response.content[:300])
        return response.json()

    namespace["get"] = get
    return namespace["verify"]


def new_question(expert, **extra):
    return services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=7),
                                    **{**COMPUTE_QUESTION, **extra})


@pytest.fixture(name="thread")
def thread_fixture(expert, alice, bob, carol):
    """An open question: three priors, three comments (one a reply), four predictions of which one replaces another."""
    question = new_question(expert)
    for spec in PRIORS[:2]:
        services.prior_set(question=question, user=expert, spec=spec)
    services.question_open(question=question, user=expert)
    services.prior_set(question=question, user=expert, spec=PRIORS[2])  # a prior may still change while open
    first = services.evidence_post(question=question, author=alice, body="Scaling laws say so. — «ß»")
    services.evidence_post(question=question, author=bob, body="Chip supply says otherwise.", parent_id=first.pk)
    services.evidence_post(question=question, author=carol, body="Both, in part.")
    services.prediction_submit(question=question, author=alice, spec=WIDE, evidence_ids=[first.pk])
    services.prediction_submit(question=question, author=bob, spec=NARROW)
    services.prediction_submit(question=question, author=alice, spec=NARROW)  # replaces alice's first
    services.prediction_submit(question=question, author=carol, spec=PRIOR_SPEC)
    return question


def close_and_publish(question, expert):
    services.question_close(question=question, user=expert)
    services.posterior_publish(question=question, user=expert, spec=POSTERIOR_SPEC)
    question.refresh_from_db()
    return question


def test_it_recomputes_the_whole_chain_from_the_api_as_the_docs_snippet_does(thread, expert, outsider, client_for):
    question = close_and_publish(thread, expert)
    client = client_for(outsider)
    verify = docs_verifier(client)

    assert verify(question.pk) is True
    log = client.get(f"/api/questions/{question.pk}/log/").json()
    kinds = [e["kind"] for e in log["entries"]]
    assert kinds == ["prior"] * 3 + ["evidence"] * 3 + ["prediction"] * 4 + ["posterior"]
    assert [e["seq"] for e in log["entries"]] == list(range(11)) and log["count"] == 11
    # Replaced predictions are in the log as well as the current ones.
    assert {e["id"] for e in log["entries"] if e["kind"] == "prediction"} == set(
        Prediction.objects.filter(question=question).values_list("pk", flat=True))
    # closed_head is the chain at the last entry before close; the posterior moved head past it.
    assert log["closed_head"] == log["entries"][-2]["chain"]
    assert log["head"] == log["entries"][-1]["chain"] != log["closed_head"]
    assert client.get(f"/api/questions/{question.pk}/").json()["closed_head"] == log["closed_head"]


def test_it_chains_each_digest_onto_the_previous_chain_from_64_zeros(thread, expert, outsider, client_for):
    # An independent check of the chain rule alone, with hashlib here rather than the snippet's helper.
    question = close_and_publish(thread, expert)
    entries = client_for(outsider).get(f"/api/questions/{question.pk}/log/").json()["entries"]
    previous = "0" * 64
    for entry in entries:
        assert entry["chain"] == hashlib.sha256((previous + entry["digest"]).encode()).hexdigest()
        previous = entry["chain"]


def test_it_misses_closed_head_once_a_prediction_is_edited_in_the_database_after_close(
    thread, expert, outsider, client_for
):
    question = close_and_publish(thread, expert)
    verify = docs_verifier(client_for(outsider))
    assert verify(question.pk) is True
    victim = Prediction.objects.filter(question=question, is_current=True).order_by("id").first()
    Prediction.objects.filter(pk=victim.pk).update(spec={"type": "lognormal", "median": 1.9e9, "sigma": 1.0})

    assert verify(question.pk) is False


def test_it_misses_closed_head_once_a_comment_is_reworded_or_removed(thread, expert, outsider, client_for):
    question = close_and_publish(thread, expert)
    verify = docs_verifier(client_for(outsider))
    comment = Evidence.objects.filter(question=question).order_by("id").last()
    Evidence.objects.filter(pk=comment.pk).update(body="Both, in part (edited).")
    assert verify(question.pk) is False
    Evidence.objects.filter(pk=comment.pk).update(body="Both, in part.")
    assert verify(question.pk) is True
    Evidence.objects.filter(pk=comment.pk).delete()
    assert verify(question.pk) is False


def test_it_answers_409_for_a_draft_or_open_question_and_404_for_an_unknown_one(expert, outsider, client_for):
    question = new_question(expert)
    services.prior_set(question=question, user=expert, spec=PRIOR_SPEC)
    assert client_for(expert).get(f"/api/questions/{question.pk}/log/").status_code == 409
    assert client_for(outsider).get(f"/api/questions/{question.pk}/log/").status_code == 404  # a draft is hidden
    services.question_open(question=question, user=expert)
    assert client_for(outsider).get(f"/api/questions/{question.pk}/log/").status_code == 409
    assert client_for(outsider).get("/api/questions/987654/log/").status_code == 404
    assert client_for().get(f"/api/questions/{question.pk}/log/").status_code == 401


def test_it_shows_no_entries_between_close_and_the_posterior(thread, expert, alice, organizer, client_for):
    services.question_close(question=thread, user=expert)
    for user in (alice, expert, organizer):
        body = client_for(user).get(f"/api/questions/{thread.pk}/log/").json()
        assert body["entries"] == []
        assert body["count"] == 10 and body["head"] == body["closed_head"] is not None


def test_it_fixes_closed_head_when_the_expert_closes_and_never_changes_it(thread, expert, outsider, client_for):
    client = client_for(outsider)
    assert client.get(f"/api/questions/{thread.pk}/").json()["closed_head"] is None
    closed = client_for(expert).post(f"/api/questions/{thread.pk}/close/")
    assert closed.status_code == 200
    head = closed.json()["closed_head"]
    assert head == client.get(f"/api/questions/{thread.pk}/log/").json()["head"]

    services.posterior_publish(question=thread, user=expert, spec=POSTERIOR_SPEC)
    after = client.get(f"/api/questions/{thread.pk}/log/").json()
    assert after["closed_head"] == head != after["head"]
    assert client.get(f"/api/questions/{thread.pk}/").json()["closed_head"] == head


def test_it_fixes_closed_head_when_beat_closes_the_question_at_closes_at(thread, expert, outsider, client_for):
    before = thread.log.order_by("-seq").first().chain
    # Beat closes it once the grace for on-time arrivals has passed (FA_CLOSE_GRACE_SECONDS).
    assert services.questions_close_due(now=thread.closes_at + services.close_grace()) == 1
    thread.refresh_from_db()
    assert thread.status == Status.CLOSED and thread.closed_head == before
    assert services.questions_close_due(now=thread.closes_at + timedelta(days=1)) == 0  # a second run changes nothing

    services.posterior_publish(question=thread, user=expert, spec=POSTERIOR_SPEC)
    thread.refresh_from_db()
    assert thread.closed_head == before
    assert docs_verifier(client_for(outsider))(thread.pk) is True


def test_it_logs_each_prior_version_with_its_own_spec(expert, outsider, client_for):
    question = new_question(expert)
    for spec in PRIORS:
        services.prior_set(question=question, user=expert, spec=spec)
    services.question_open(question=question, user=expert)
    close_and_publish(question, expert)
    entries = client_for(outsider).get(f"/api/questions/{question.pk}/log/").json()["entries"]
    assert [e.get("content") for e in entries if e["kind"] == "prior"] == PRIORS
    assert all("content" not in e for e in entries if e["kind"] != "prior")
