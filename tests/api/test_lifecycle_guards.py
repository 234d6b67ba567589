"""Guards a mutation audit found unpinned: the draw seed stays secret in every status before the award, only an open
question closes, and a half-scored question shows no ranking."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.utils import timezone

from forecasts import prizes, services
from forecasts.models import AuditEvent, Job, Score, Status
from tests.builders import PRIZES


def _seed_shown(client, question) -> object:
    return client.get(f"/api/questions/{question.pk}/").json()["draw_seed"]


def test_it_hides_the_draw_seed_in_every_status_before_the_award(
    client_for, django_capture_on_commit_callbacks, expert, alice, organizer, outsider
):
    # The expert sets the influence weights: a seed they could read before the award would let them pick the winner.
    viewers = [client_for(expert), client_for(alice), client_for(organizer), client_for(outsider)]
    question = services.question_create(created_by=expert, title="Seed", scale="linear", lower=0, upper=10,
                                        closes_at=timezone.now() + timedelta(days=3))
    seen = {}

    def look() -> None:
        question.refresh_from_db()
        # A draft is visible to its expert and organizers only; later statuses to everyone.
        who = [viewers[0], viewers[2]] if question.status == Status.DRAFT else viewers
        seen[question.status] = [_seed_shown(v, question) for v in who]

    look()
    services.prior_set(question=question, user=expert, spec={"type": "normal", "mean": 5, "sd": 2})
    services.question_open(question=question, user=expert)
    look()
    evidence = services.evidence_post(question=question, author=alice, body="an argument")
    services.prediction_submit(question=question, author=alice, spec={"type": "normal", "mean": 4, "sd": 2})
    services.question_close(question=question, user=expert)
    look()
    with django_capture_on_commit_callbacks(execute=True):
        services.posterior_publish(question=question, user=expert, spec={"type": "normal", "mean": 4, "sd": 1},
                                   influence=[{"evidence": evidence.pk, "weight": 1.0}])
    look()
    prizes.prizes_draft(question=question, user=organizer, **{**PRIZES, "evidence_rule": "draw"})
    look()
    assert set(seen) == {Status.DRAFT, Status.OPEN, Status.CLOSED, Status.SCORED}
    assert all(shown is None for values in seen.values() for shown in values), seen

    prizes.prizes_award(question=question, user=organizer)
    question.refresh_from_db()
    revealed = {_seed_shown(v, question) for v in viewers}
    assert revealed == {question.draw_seed}
    assert hashlib.sha256(question.draw_seed.encode()).hexdigest() == question.draw_commitment


def test_a_stale_open_copy_of_a_closed_question_does_not_close_it_again(closed_question):
    stale = type(closed_question).objects.get(pk=closed_question.pk)
    stale.status = Status.OPEN  # what a request read before another one closed the question
    events, jobs = AuditEvent.objects.count(), Job.objects.count()
    closed_at = closed_question.closed_at

    assert services._close_if_due(stale, timezone.now() + timedelta(days=30)) is False
    closed_question.refresh_from_db()
    assert (closed_question.status, closed_question.closed_at) == (Status.CLOSED, closed_at)
    assert (AuditEvent.objects.count(), Job.objects.count()) == (events, jobs)


def test_a_resolved_question_whose_scoring_stopped_midway_shows_no_scores(client_for, closed_question, expert, alice):
    # Scoring writes chunks in their own transactions: a job stopped midway leaves some Score rows behind while the
    # question is still `resolved`. Nobody may read that half-written ranking.
    services.posterior_publish(question=closed_question, user=expert, spec={"type": "lognormal", "median": 1e9,
                                                                           "sigma": 2.0})
    prediction = closed_question.predictions.get(author=alice, is_current=True)
    Score.objects.create(question=closed_question, prediction=prediction, author=alice, kl=0.1, log_score=-1.0,
                         skill=0.5, crps=0.01, wasserstein=0.02, rank=1)
    closed_question.refresh_from_db()
    assert closed_question.status == Status.RESOLVED
    client = client_for(alice)
    scores = client.get(f"/api/questions/{closed_question.pk}/scores/").json()
    board = client.get(f"/api/questions/{closed_question.pk}/leaderboard/").json()
    assert scores["results"] == []
    assert board["results"] == []
