"""The two reference scenarios of docs/design.md as demo data: finished competitions a new user can look through.

The numbers follow the 2020 runs: the compute question's prior had a median near 1e13 PF/s-days and the posterior a
median near 1e9 with a mode near 1e8; the AGI-researchers question's prior put 0.1% on "already" and 35% on "after
2100 or never", the posterior 3% and 40%. Commenters: one who predicts close to the real posterior, one who predicts
no change, one who moves the wrong way. The evidence texts are short paraphrases written for this demo.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from . import services
from .models import Question, Status

User = get_user_model()
DEMO_PASSWORD = "amplify-demo-2020"

COMPUTE_PRIOR = {"type": "quantiles", "points": [{"p": 0.05, "x": 1e9}, {"p": 0.5, "x": 1e13}, {"p": 0.95, "x": 1e17}]}
# Mode near 1e8, median near 1e9, and roughly 15% beyond 1e11 (a trillion-dollar run) for a world where spending
# keeps exploding.
COMPUTE_POSTERIOR = {
    "type": "mixture",
    "components": [
        {"weight": 0.45, "spec": {"type": "lognormal", "median": 1e8, "sigma": 1.2}},
        {"weight": 0.55, "spec": {"type": "lognormal", "median": 2e10, "sigma": 2.4}},
    ],
}
COMPUTE_CLOSE = {
    "type": "mixture",
    "components": [
        {"weight": 0.4, "spec": {"type": "lognormal", "median": 1.5e8, "sigma": 1.4}},
        {"weight": 0.6, "spec": {"type": "lognormal", "median": 2.5e10, "sigma": 2.6}},
    ],
}
COMPUTE_WRONG_WAY = {"type": "lognormal", "low": 1e12, "high": 1e19}

AGI_PRIOR = {
    "type": "quantiles",
    "mass_below": 0.001,
    "mass_above": 0.35,
    "points": [{"p": 0.2, "x": "2032-01-01"}, {"p": 0.5, "x": "2040-01-01"}],
}
AGI_POSTERIOR = {
    "type": "quantiles",
    "mass_below": 0.03,
    "mass_above": 0.40,
    "points": [{"p": 0.2, "x": "2029-01-01"}, {"p": 0.5, "x": "2043-01-01"}],
}
AGI_CLOSE = {
    "type": "quantiles",
    "mass_below": 0.025,
    "mass_above": 0.38,
    "points": [{"p": 0.2, "x": "2029-06-01"}, {"p": 0.5, "x": "2042-01-01"}],
}
AGI_WRONG_WAY = {
    "type": "quantiles",
    "mass_below": 0.001,
    "mass_above": 0.2,
    "points": [{"p": 0.2, "x": "2036-01-01"}, {"p": 0.5, "x": "2045-01-01"}],
}


@dataclass
class Scenario:
    question: dict
    expert: str
    prior: dict
    posterior: dict
    evidence: list[tuple[str, str, list[str]]]  # (author, body, sources)
    predictions: dict[str, dict]  # author -> spec
    influence: list[float]  # expert's weight per evidence comment, in order
    prizes: dict = field(default_factory=dict)


SCENARIOS = [
    Scenario(
        question={
            "title": "Compute used in the largest ML training run before 2030",
            "description": "In petaflop/s-days. What will Buck believe after reading this thread?",
            "unit": "PF/s-days",
            "scale": "log",
            "lower": 1e2,
            "upper": 1e18,
            "open_lower": True,
            "open_upper": True,
        },
        expert="buck",
        prior=COMPUTE_PRIOR,
        posterior=COMPUTE_POSTERIOR,
        evidence=[
            ("alice", "The 3.4-month doubling trend came mostly from spending growth, not cheaper hardware. "
                      "Extending it to 2030 means a single run costing far more than any company's yearly budget; "
                      "at a trillion dollars a run you reach about 1e11 PF/s-days, which looks like the far end.",
             ["https://openai.com/blog/ai-and-compute/"]),
            ("bob", "Hardware price-performance improves roughly 10x per decade, so cost alone caps growth at a "
                    "few orders of magnitude over AlphaStar-scale runs unless budgets grow by 1000x.", []),
            ("carol", "If AGI-style races start, governments could fund runs far beyond today's budgets; keep a "
                      "fat right tail.", []),
        ],
        predictions={"alice": COMPUTE_CLOSE, "bob": COMPUTE_PRIOR, "carol": COMPUTE_WRONG_WAY},
        influence=[3.0, 1.0, 0.0],
        prizes={"accuracy_pool": "50.00", "evidence_pool": "50.00", "accuracy_rule": "winner_takes_all",
                "evidence_rule": "proportional"},
    ),
    Scenario(
        question={
            "title": "When will a majority of top AGI researchers agree with safety concerns?",
            "description": "Mass below the range means it has already happened; above means after 2100 or never.",
            "unit": "",
            "scale": "date",
            "lower": "2020-01-01",
            "upper": "2100-12-31",
            "open_lower": True,
            "open_upper": True,
        },
        expert="rohin",
        prior=AGI_PRIOR,
        posterior=AGI_POSTERIOR,
        evidence=[
            ("alice", "Restricted to people actually working toward AGI, a majority may already accept the core "
                      "arguments; surveys of lab researchers show more concern than field-wide surveys.", []),
            ("dana", "Concern is concentrated among RL researchers, a small share of those whose work matters for "
                     "AGI (language and representation learning); consensus could take longer.", []),
            ("bob", "Compelling warning shots should arrive before human-level systems, which speeds consensus.", []),
        ],
        predictions={"alice": AGI_CLOSE, "bob": AGI_PRIOR, "carol": AGI_WRONG_WAY},
        influence=[2.0, 1.5, 1.0],
        prizes={"accuracy_pool": "100.00", "evidence_pool": "100.00", "accuracy_rule": "proportional_skill",
                "evidence_rule": "draw"},
    ),
]


# ILLUSTRATIVE ONLY: the two reference questions stay unresolved (their true values are not known). This copy of the
# compute question gets a made-up outcome so the amplification report has something to show; its title says so.
ILLUSTRATIVE = Scenario(
    question={**SCENARIOS[0].question,
              "title": "ILLUSTRATIVE (made-up outcome): compute in the largest ML training run before 2030",
              "description": "A copy of the compute question with an invented outcome, to show the amplification "
                             "report. The outcome is not real."},
    expert="buck", prior=COMPUTE_PRIOR, posterior=COMPUTE_POSTERIOR, evidence=SCENARIOS[0].evidence,
    predictions=SCENARIOS[0].predictions, influence=SCENARIOS[0].influence,
)
ILLUSTRATIVE_OUTCOME = 3e9  # PF/s-days; invented


def _user(username: str, *, organizer: bool = False):
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_password(DEMO_PASSWORD)
        user.is_staff = organizer
        user.is_superuser = organizer
        user.save()
    if organizer:
        user.groups.add(Group.objects.get_or_create(name="organizers")[0])
    return user


def _wait_until_scored(question: Question, *, timeout: float) -> Question:
    """With a broker the scoring job runs on a worker: give it a moment (none is needed when tasks run eagerly)."""
    deadline = time.monotonic() + timeout
    question.refresh_from_db()
    while question.status == Status.RESOLVED and time.monotonic() < deadline:
        time.sleep(0.2)
        question.refresh_from_db()
    return question


def load_demo(*, award: bool = True, score_timeout: float = 60.0) -> list[Question]:
    """Create both scenarios end to end through the services, and the ILLUSTRATIVE copy of the compute question with
    its made-up outcome. Returns the two reference questions; a second call does nothing.

    Prizes are awarded once a question is scored; if no worker scores it within `score_timeout` seconds the question
    is left `resolved` (award it later through the API).
    """
    organizer = _user("organizer", organizer=True)
    questions = [_load_scenario(scenario, organizer=organizer, award=award, score_timeout=score_timeout)
                 for scenario in SCENARIOS]
    illustrative = _load_scenario(ILLUSTRATIVE, organizer=organizer, award=False, score_timeout=score_timeout)
    if illustrative.status == Status.SCORED and not hasattr(illustrative, "outcome"):
        with transaction.atomic():
            services.outcome_record(question=illustrative, user=organizer, value=ILLUSTRATIVE_OUTCOME)
    return questions


def _load_scenario(scenario: Scenario, *, organizer, award: bool, score_timeout: float) -> Question:
    existing = Question.objects.filter(title=scenario.question["title"]).first()
    if existing is not None:
        return existing
    expert = _user(scenario.expert)
    with transaction.atomic():
        question = services.question_create(
            created_by=expert, closes_at=timezone.now() + timedelta(days=14), **scenario.question
        )
        services.prior_set(question=question, user=expert, spec=scenario.prior)
        services.question_open(question=question, user=expert)
        evidence = [
            services.evidence_post(question=question, author=_user(author), body=body, sources=sources)
            for author, body, sources in scenario.evidence
        ]
        for author, spec in scenario.predictions.items():
            services.prediction_submit(
                question=question, author=_user(author), spec=spec,
                evidence_ids=[e.pk for e in evidence if e.author.username == author],
            )
        services.question_close(question=question, user=expert)
        services.posterior_publish(
            question=question, user=expert, spec=scenario.posterior,
            influence=[{"evidence": e.pk, "weight": w} for e, w in zip(evidence, scenario.influence, strict=True)],
        )
    question = _wait_until_scored(question, timeout=score_timeout)
    if award and scenario.prizes and question.status == Status.SCORED:
        from .prizes import prizes_award, prizes_draft

        allocation = prizes_draft(question=question, user=organizer, **scenario.prizes)
        prizes_award(question=question, user=organizer, allocation_id=allocation.pk)
        question.refresh_from_db()
    return question
