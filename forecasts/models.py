"""The domain as stored: questions, distributions, evidence, predictions, posteriors, scores, jobs, prizes, audit.

Rules about who may do what live in permissions.py, writes in services.py (prizes.py for prizes); the models hold
data and rules about a single row.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from amplification.grid import N_POINTS, Domain


class Status(models.TextChoices):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    RESOLVED = "resolved"  # the expert's posterior is published; scoring is queued or running
    SCORED = "scored"
    AWARDED = "awarded"


class Scale(models.TextChoices):
    LINEAR = "linear"
    LOG = "log"
    DATE = "date"


class Question(models.Model):
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    unit = models.CharField(max_length=100, blank=True)
    scale = models.CharField(max_length=10, choices=Scale.choices)
    # Bounds in internal units: the value itself on linear/log scales, days since 1970-01-01 on a date scale.
    lower = models.FloatField()
    upper = models.FloatField()
    open_lower = models.BooleanField(default=False)
    open_upper = models.BooleanField(default=False)
    closes_at = models.DateTimeField()
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="questions_as_expert")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    awarded_at = models.DateTimeField(null=True, blank=True)
    # The evidence draw's seed is drawn when the question opens; only its SHA-256 is shown until the award.
    draw_seed = models.CharField(max_length=64, blank=True)
    draw_commitment = models.CharField(max_length=64, blank=True)
    # The forecast log's chain value at close (forecasts/forecast_log.py), set by the update that closes the question
    # and never changed afterwards. Null (not "") before close: the API shows null, and a close with an empty log
    # would otherwise be indistinguishable from one not yet closed.
    closed_head = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # Blind weighting: until the posterior is published, the expert sees evidence under pseudonyms, not names.
    blind = models.BooleanField(default=True)
    # When the expert was reminded to publish the posterior (set once, by the conditional update that sends it).
    posterior_reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(lower__lt=models.F("upper")), name="question_lower_lt_upper")]

    def __str__(self) -> str:
        return self.title

    @property
    def domain(self) -> Domain:
        # The horizon (days since 1970-01-01) is where a trend spec without its own `at_date` extrapolates to: the
        # question's closing time, when the expert's view is taken.
        return Domain(
            lower=self.lower, upper=self.upper, scale=self.scale, open_lower=self.open_lower,
            open_upper=self.open_upper, horizon=self.closes_at.timestamp() / 86400.0 if self.closes_at else None,
        )

    def is_past_close(self, now=None) -> bool:
        return (now or timezone.now()) >= self.closes_at

    @property
    def aggregate(self) -> Aggregate | None:
        """The pooled forecast by the organizer-facing default method (settings.FA_POOL_DEFAULT_METHOD), or None."""
        return self.aggregates.filter(method=settings.FA_POOL_DEFAULT_METHOD).first()


class StoredDistribution(models.Model):
    """A distribution in canonical form (201-point CDF as float64 bytes) beside the spec the person typed."""

    spec = models.JSONField()
    cdf_bytes = models.BinaryField()
    mass_below = models.FloatField()
    mass_above = models.FloatField()
    summary = models.JSONField()
    fit = models.JSONField(null=True, blank=True)
    notes = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True

    @property
    def cdf(self) -> np.ndarray:
        return np.frombuffer(bytes(self.cdf_bytes), dtype=np.float64, count=N_POINTS)


class Prior(StoredDistribution):
    question = models.OneToOneField(Question, on_delete=models.CASCADE, related_name="prior")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"prior of question {self.question_id}"


class Evidence(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="evidence")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="evidence")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies")
    body = models.TextField()
    sources = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"evidence #{self.pk} by {self.author_id} on question {self.question_id}"


class Endorsement(models.Model):
    """A commenter marks another's evidence as "this changed my mind": a signal for the expert, not a weight."""

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="endorsements")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["evidence", "user"], name="endorsement_once_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id} endorses evidence {self.evidence_id}"


class Prediction(StoredDistribution):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="predictions")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="predictions")
    evidence = models.ManyToManyField(Evidence, blank=True, related_name="predictions")
    created_at = models.DateTimeField(default=timezone.now)
    # A user's newest prediction is the one scored; older ones are kept as history with is_current=False.
    is_current = models.BooleanField(default=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["question", "is_current"])]
        constraints = [
            models.UniqueConstraint(
                fields=["question", "author"], condition=Q(is_current=True), name="one_current_prediction_per_author"
            )
        ]

    def __str__(self) -> str:
        return f"prediction #{self.pk} by {self.author_id} on question {self.question_id}"


class Posterior(StoredDistribution):
    question = models.OneToOneField(Question, on_delete=models.CASCADE, related_name="posterior")
    published_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"posterior of question {self.question_id}"


class Influence(models.Model):
    """How much one comment moved the expert (their own weight, >= 0), with an optional sentence on why."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="influences")
    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="influences")
    weight = models.FloatField()
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["question", "evidence"], name="one_influence_per_evidence"),
            models.CheckConstraint(condition=Q(weight__gte=0), name="influence_weight_non_negative"),
        ]

    def __str__(self) -> str:
        return f"evidence {self.evidence_id} weight {self.weight}"


class Aggregate(StoredDistribution):
    """The pooled crowd forecast (the amplified forecast) by one method (amplification.pooling.POOL_METHODS): one row
    per (question, method), all recomputed together whenever the current predictions change."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="aggregates")
    method = models.CharField(max_length=20, default="equal")
    n_predictions = models.PositiveIntegerField(default=0)
    scores = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question", "method"], name="one_aggregate_per_method")]

    def __str__(self) -> str:
        return f"{self.method} pooled forecast of question {self.question_id}"


class Score(models.Model):
    """One current prediction scored against the expert's posterior; keyed on the prediction so re-runs upsert."""

    # Scores are derived rows, written only by the scoring job from the predictions it has just read, and rebuilt
    # by any re-run. So their keys carry no database constraint: checking them took a third of the time to score
    # 100,000 predictions, and each check also locked (and so rewrote) the referenced prediction row
    # (docs/benchmarks.md). Deletes still cascade through the ORM; the unique index on prediction stays.
    # question and author repeat what the prediction says, for filtering and display without a join; the
    # (question, rank) index serves lookups by question.
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="scores", db_constraint=False,
                                 db_index=False)
    prediction = models.OneToOneField(Prediction, on_delete=models.CASCADE, related_name="score",
                                      db_constraint=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="+",
                               db_constraint=False, db_index=False)
    kl = models.FloatField()
    log_score = models.FloatField()
    skill = models.FloatField()
    crps = models.FloatField()
    wasserstein = models.FloatField()
    rank = models.PositiveIntegerField()

    class Meta:
        ordering = ["rank", "prediction_id"]
        indexes = [models.Index(fields=["question", "rank"])]

    def __str__(self) -> str:
        return f"score of prediction {self.prediction_id}: rank {self.rank}"


class Outcome(models.Model):
    """The true value, once the world resolves the question: recorded once, beside the status (it does not change it).

    `value` is what was given (a number, an ISO date, "below", "above" or "annulled"); `x` the same number in internal
    units (days since 1970 on a date scale), null for "below", "above" and "annulled"; `bucket` the index of the 202
    masses it falls in (Metaculus's placement, amplification.outcomes), null when annulled.
    """

    question = models.OneToOneField(Question, on_delete=models.CASCADE, related_name="outcome")
    value = models.JSONField()
    x = models.FloatField(null=True, blank=True)
    bucket = models.PositiveSmallIntegerField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"outcome of question {self.question_id}: {self.value!r}"

    @property
    def annulled(self) -> bool:
        return self.value == ANNULLED


ANNULLED = "annulled"


class OutcomeScore(models.Model):
    """One forecast of a question scored against its outcome; keyed on (question, forecast, prediction) so re-runs
    upsert. The prior, posterior and pool have no prediction (and no author, and no peer score)."""

    class Forecast(models.TextChoices):
        PRIOR = "prior"
        POSTERIOR = "posterior"
        POOL = "pool"
        PREDICTION = "prediction"

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="outcome_scores")
    forecast = models.CharField(max_length=12, choices=Forecast.choices)
    # Derived rows rebuilt by any re-run, like Score: no constraint on the prediction or author keys (see Score).
    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                   db_constraint=False, db_index=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, null=True, blank=True,
                               related_name="+", db_constraint=False, db_index=False)
    log_score = models.FloatField()
    baseline = models.FloatField()
    peer = models.FloatField(null=True, blank=True)
    crps = models.FloatField()

    class Meta:
        ordering = ["question", "id"]
        constraints = [
            models.UniqueConstraint(fields=["question", "forecast", "prediction"],
                                    name="one_outcome_score_per_forecast"),
            # NULLs are distinct in the key above, so the prior, posterior and pool rows need a key of their own.
            models.UniqueConstraint(fields=["question", "forecast"], condition=Q(prediction__isnull=True),
                                    name="one_outcome_score_per_summary_forecast"),
        ]

    def __str__(self) -> str:
        return f"{self.forecast} outcome score on question {self.question_id}"


class Job(models.Model):
    class Kind(models.TextChoices):
        FIT_PRIOR = "fit_prior"
        SCORE = "score"
        AGGREGATE = "aggregate"
        PRIZES = "prizes"
        OUTCOME = "outcome"

    class State(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="jobs")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    # The Celery task id of the delivery that holds the job. A task's retries keep its id, so a retry after a database
    # error resumes its own claim at once (jobs.job_claim), where another delivery must wait for the heartbeat.
    claimed_by = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.kind} job #{self.pk} ({self.state})"


class PrizeAllocation(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft"
        AWARDED = "awarded"

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="allocations")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    currency = models.CharField(max_length=3, default="USD")
    accuracy_pool = models.DecimalField(max_digits=14, decimal_places=2)
    evidence_pool = models.DecimalField(max_digits=14, decimal_places=2)
    accuracy_rule = models.CharField(max_length=30)
    evidence_rule = models.CharField(max_length=30)
    params = models.JSONField(default=dict, blank=True)
    draw = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    awarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    awarded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["question"], condition=Q(state="awarded"), name="one_award_per_question"
            )
        ]

    def __str__(self) -> str:
        return f"{self.state} allocation #{self.pk} for question {self.question_id}"


class Payout(models.Model):
    class Kind(models.TextChoices):
        ACCURACY = "accuracy"
        EVIDENCE = "evidence"

    allocation = models.ForeignKey(PrizeAllocation, on_delete=models.CASCADE, related_name="payouts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    # What earned it: the prediction (accuracy) or the evidence comment (evidence).
    prediction = models.ForeignKey(Prediction, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["kind", "-amount", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} to {self.user_id}"

    @property
    def user_verified(self) -> bool:
        """A payout is paid only to a verified email; until then it is pending verification."""
        return EmailAddress.objects.filter(user_id=self.user_id, verified_at__isnull=False).exists()


class AuditEvent(models.Model):
    """Append-only record of every step that changes a question, its scores or its prizes."""

    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, null=True, blank=True, related_name="audit")
    action = models.CharField(max_length=50)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action}"


class LogEntry(models.Model):
    """One link of a question's forecast log, a hash chain over its priors, evidence, predictions and posterior.

    Appended in the transaction that stores the object, under the question's row lock, so `seq` runs 0, 1, 2, ...
    without gaps or forks. `digest` and `chain` are defined in docs/forecast-log.md.
    """

    class Kind(models.TextChoices):
        PRIOR = "prior"
        EVIDENCE = "evidence"
        PREDICTION = "prediction"
        POSTERIOR = "posterior"

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="log")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    object_id = models.BigIntegerField()
    author = models.CharField(max_length=150)
    created_at = models.CharField(max_length=40)  # exactly the ISO string the API shows for the object
    # A prior is overwritten in place when the expert changes it, so the log keeps each version's spec: without it
    # nobody could recompute the digest of a replaced prior. Null for the other kinds, whose rows are kept.
    content = models.JSONField(null=True, blank=True)
    digest = models.CharField(max_length=64)
    chain = models.CharField(max_length=64)

    class Meta:
        ordering = ["question", "seq"]
        constraints = [models.UniqueConstraint(fields=["question", "seq"], name="log_seq_once_per_question")]

    def __str__(self) -> str:
        return f"log {self.question_id}#{self.seq} {self.kind} {self.object_id}"


class Competition(models.Model):
    """Several questions with a prize pool of their own, paid on the leaderboard across them."""

    name = models.CharField(max_length=200)
    questions = models.ManyToManyField(Question, related_name="competitions", blank=True)
    pool = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class CompetitionAward(models.Model):
    """A competition's pool split across users: final, once per competition (the one-to-one key says so)."""

    competition = models.OneToOneField(Competition, on_delete=models.PROTECT, related_name="award")
    pool = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    rule = models.CharField(max_length=30)
    awarded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    awarded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"award of competition {self.competition_id}"


class CompetitionPayout(models.Model):
    award = models.ForeignKey(CompetitionAward, on_delete=models.CASCADE, related_name="payouts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="competition_payouts")
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["-amount", "user__username", "id"]
        constraints = [models.UniqueConstraint(fields=["award", "user"], name="one_competition_payout_per_user")]

    def __str__(self) -> str:
        return f"{self.amount} to {self.user_id} from competition award {self.award_id}"


class Account(models.Model):
    """What the platform knows of a user beyond Django's row: where they signed up from, for the prize review.

    The address is shown to organizers only (forecasts.permissions.can_review_prizes)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account")
    signup_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"account of {self.user_id}"


class PrizeExclusion(models.Model):
    """An organizer's decision that a user takes nothing from a question's prizes (a second account, a copy)."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="prize_exclusions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["question", "user"], name="one_exclusion_per_user")]

    def __str__(self) -> str:
        return f"user {self.user_id} excluded from prizes of question {self.question_id}"


class EmailAddress(models.Model):
    """A person's email, and whether they proved it is theirs by following the signed link sent to it.

    One per user. A verified address belongs to one account only (the partial unique key on its lower-cased form);
    an unverified one may be typed by anybody, and proves nothing until verified.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_address")
    email = models.EmailField()
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), condition=Q(verified_at__isnull=False),
                                    name="verified_email_once"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({'verified' if self.verified_at else 'unverified'})"

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


class NotificationKind(models.TextChoices):
    QUESTION_CLOSED = "question_closed"
    POSTERIOR_DUE = "posterior_due"
    POSTERIOR_REMINDER = "posterior_reminder"
    POSTERIOR_PUBLISHED = "posterior_published"
    EVIDENCE_REPLY = "evidence_reply"
    EVIDENCE_WEIGHT = "evidence_weight"
    PRIZE_WON = "prize_won"
    PRIZE_DRAFT = "prize_draft"
    JOB_FAILED = "job_failed"


# What each kind tells, in the settings page, the mail subjects and the OpenAPI schema.
NOTIFICATION_LABELS = {
    NotificationKind.QUESTION_CLOSED: "A question you predicted on or commented on closed",
    NotificationKind.POSTERIOR_DUE: "Your question closed: time to write the posterior",
    NotificationKind.POSTERIOR_REMINDER: "Reminder: your posterior is still unpublished",
    NotificationKind.POSTERIOR_PUBLISHED: "The posterior is published: your score and rank",
    NotificationKind.EVIDENCE_REPLY: "A reply to your evidence",
    NotificationKind.EVIDENCE_WEIGHT: "Your evidence moved the expert",
    NotificationKind.PRIZE_WON: "You won a prize",
    NotificationKind.PRIZE_DRAFT: "Organizers: a prize draft is ready to review",
    NotificationKind.JOB_FAILED: "Organizers: a background job failed",
}


class Notification(models.Model):
    """One event told to one person: shown on the pages and the API, and mailed at most once.

    `delivery` is decided when the row is written, from the person's preference for the kind and whether they have a
    verified email. `sent_at` is set by the conditional update that claims the row for mailing (`claim` names the
    claiming run), so two deliveries of the send task never both mail it.
    """

    class Delivery(models.TextChoices):
        IMMEDIATE = "immediate"
        DIGEST = "digest"
        OFF = "off"  # the person turned this kind off, or has no verified email: shown, never mailed

    # Written in bulk, one INSERT per event, for recipients read from rows that are themselves checked (scores,
    # predictions, evidence), as Score's keys are: so the keys carry no database constraint. A posterior told to
    # 100,000 predictors spent 0.6 s at commit in the per-row foreign-key checks, a fifth of the scoring job
    # (docs/benchmarks.md). Deletes still cascade through the ORM. The (user, read) index serves lookups by user.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                             db_constraint=False, db_index=False)
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    question = models.ForeignKey(Question, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                 db_constraint=False)
    created_at = models.DateTimeField(default=timezone.now)
    read = models.BooleanField(default=False)
    data = models.JSONField(default=dict, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True, default="")
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.IMMEDIATE)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read"]),
            models.Index(fields=["sent_at"], condition=Q(sent_at__isnull=True), name="notification_unsent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"


MODE_LABELS = {"immediate": "immediately", "digest": "in a daily digest", "off": "never (the bell still shows it)"}


class NotificationPreference(models.Model):
    """How one person wants one kind of notification mailed; no row means immediately."""

    class Mode(models.TextChoices):
        IMMEDIATE = "immediate"
        DIGEST = "digest"
        OFF = "off"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.IMMEDIATE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_kind")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.mode}"
