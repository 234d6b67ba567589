"""Request and response shapes. Serializers check types and shapes only; every rule lives in services."""

from __future__ import annotations

import math

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import limits
from ..models import Evidence, Job, Notification, Prediction, Question, Scale, Score
from ..permissions import draw_seed_visible
from ..selectors import shown_author

User = get_user_model()


# --- fields ----------------------------------------------------------------------------------------------------------

# Ids are 64-bit: a larger number is a 400 here rather than an overflow in the database driver.
MAX_ID = limits.MAX_ID


def id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string", "format": "date"}]})
class BoundField(serializers.Field):
    """A range bound: a number, or an ISO date on a date question. The domain check happens in the service."""

    default_error_messages = {"invalid": "must be a number, or an ISO 8601 date on a date question"}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float | str):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "object", "additionalProperties": True,
                     "description": "A distribution spec (see docs/design.md)"})
class SpecField(serializers.JSONField):
    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be an object with a `type` (quantiles, lognormal, normal, "
                                              "histogram, cdf, mixture)")
        return data


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}], "description": "username or user id"})
class UserRefField(serializers.Field):
    """A user by username (or numeric id)."""

    default_error_messages = {"missing": "no user {value!r}", "invalid": "must be a username or a user id"}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            user = User.objects.filter(pk=data).first() if 0 < data <= MAX_ID else None
        elif isinstance(data, str) and data:
            user = User.objects.filter(username=data).first()
        else:
            self.fail("invalid")
        if user is None:
            self.fail("missing", value=data)
        return user

    def to_representation(self, value):
        return value.get_username()


# --- auth ------------------------------------------------------------------------------------------------------------


class CredentialsSerializer(serializers.Serializer):
    username = serializers.RegexField(limits.USERNAME_PATTERN, max_length=limits.MAX_USERNAME, error_messages={
        "invalid": limits.USERNAME_RULE})
    password = serializers.CharField(max_length=limits.MAX_PASSWORD, trim_whitespace=False)


class RegisterSerializer(CredentialsSerializer):
    email = serializers.EmailField(required=False, allow_blank=True, max_length=limits.MAX_EMAIL,
                                   help_text="optional; a link to verify it is mailed to it")


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "question", "created_at", "read"]
        read_only_fields = fields


class NotificationsReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=id_field(), required=False, max_length=10_000)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("all") and "ids" not in attrs:
            raise serializers.ValidationError({"ids": ['give "ids": [..] or "all": true']})
        return attrs


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="how many notifications went from unread to read")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


# --- distributions ---------------------------------------------------------------------------------------------------


class StoredDistributionSerializer(serializers.Serializer):
    spec = serializers.JSONField()
    cdf = serializers.ListField(child=serializers.FloatField(), min_length=201, max_length=201)
    mass_below = serializers.FloatField()
    mass_above = serializers.FloatField()
    summary = serializers.DictField()
    fit = serializers.DictField(allow_null=True, required=False)
    notes = serializers.ListField(child=serializers.CharField(), required=False)

    def to_representation(self, instance):
        data = {
            "spec": instance.spec,
            "cdf": instance.cdf.tolist(),
            "mass_below": instance.mass_below,
            "mass_above": instance.mass_above,
            "summary": instance.summary,
            "notes": instance.notes or [],
        }
        if instance.fit is not None:
            data["fit"] = instance.fit
        return data


class PriorSerializer(StoredDistributionSerializer):
    """The prior, with the time of its newest version (the forecast log's `created_at` for it)."""

    updated_at = serializers.DateTimeField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["updated_at"] = serializers.DateTimeField().to_representation(instance.updated_at)
        return data


class PosteriorSerializer(StoredDistributionSerializer):
    """The posterior, with when it was published (the forecast log's `created_at` for it)."""

    published_at = serializers.DateTimeField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["published_at"] = serializers.DateTimeField().to_representation(instance.published_at)
        return data


class PublishedPosteriorSerializer(PosteriorSerializer):
    """The posterior as stored, and the scoring job it started."""

    job = serializers.IntegerField(allow_null=True, help_text="the scoring job: GET /api/jobs/{id}/ shows its progress")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        job = instance.question.jobs.filter(kind=Job.Kind.SCORE).order_by("-id").first()
        data["job"] = job.pk if job else None
        return data


class AggregateScoresSerializer(serializers.Serializer):
    kl = serializers.FloatField()
    log_score = serializers.FloatField()
    skill = serializers.FloatField()
    crps = serializers.FloatField()
    wasserstein = serializers.FloatField()


class AggregateSerializer(StoredDistributionSerializer):
    """The pooled crowd forecast (the amplified forecast) as a stored distribution, and its scores once the posterior
    exists."""

    method = serializers.CharField(help_text="how the predictions were pooled: `equal` (mean of the current CDFs), "
                                             "`recency`, `quantile` or `skill` (DESIGN.md, Pooling methods)")
    n_predictions = serializers.IntegerField(help_text="current predictions pooled")
    scores = AggregateScoresSerializer(allow_null=True, help_text="against the posterior; null until it exists")
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data.update({"method": instance.method, "n_predictions": instance.n_predictions, "scores": instance.scores,
                     "updated_at": serializers.DateTimeField().to_representation(instance.updated_at)})
        return data


class SpecInSerializer(serializers.Serializer):
    spec = SpecField()


class WeightField(serializers.FloatField):
    """A finite number >= 0. JSON true/false are refused (Python would take them as 1 and 0)."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            raise serializers.ValidationError("must be finite")
        return value


class InfluenceInSerializer(serializers.Serializer):
    evidence = id_field()
    weight = WeightField(min_value=0)
    note = serializers.CharField(required=False, allow_blank=True, max_length=limits.MAX_INFLUENCE_NOTE)


class PosteriorInSerializer(serializers.Serializer):
    spec = SpecField()
    influence = InfluenceInSerializer(many=True, required=False, max_length=limits.MAX_INFLUENCE)


class PredictionInSerializer(serializers.Serializer):
    spec = SpecField()
    evidence = serializers.ListField(child=id_field(), required=False, max_length=limits.MAX_PREDICTION_EVIDENCE)


class EvidenceInSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=limits.MAX_EVIDENCE_BODY)
    sources = serializers.ListField(child=serializers.URLField(max_length=limits.MAX_SOURCE_URL), required=False,
                                    max_length=limits.MAX_SOURCES)
    parent = id_field(required=False, allow_null=True)


# --- outcomes and the report ------------------------------------------------------------------------------------

OUTCOME_VALUE_SCHEMA = {
    "oneOf": [{"type": "number"}, {"type": "string", "format": "date"},
              {"type": "string", "enum": ["below", "above", "annulled"]}],
    "description": "a number, an ISO date on a date question, \"below\"/\"above\" (open sides), or \"annulled\"",
}


@extend_schema_field(OUTCOME_VALUE_SCHEMA)
class OutcomeValueField(serializers.JSONField):
    """Any JSON value: which kinds a question accepts is the service's rule (a 400 naming `value`)."""


class OutcomeInSerializer(serializers.Serializer):
    value = OutcomeValueField()


class OutcomeBriefSerializer(serializers.Serializer):
    value = OutcomeValueField()
    bucket = serializers.IntegerField(
        allow_null=True, help_text="0 below the range, 1..200 inside, 201 above; null when annulled")


class OutcomeSerializer(OutcomeBriefSerializer):
    recorded_by = serializers.CharField(source="recorded_by.username")
    recorded_at = serializers.DateTimeField()
    job = serializers.IntegerField(allow_null=True, help_text="the outcome-scoring job (null when annulled)")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        job = instance.question.jobs.filter(kind=Job.Kind.OUTCOME).order_by("-id").first()
        data["job"] = job.pk if job else None
        return data


class OutcomeScoreSerializer(serializers.Serializer):
    forecast = serializers.ChoiceField(choices=["prior", "posterior", "pool", "prediction"])
    prediction = serializers.IntegerField(source="prediction_id", allow_null=True)
    author = serializers.SerializerMethodField()
    log_score = serializers.FloatField(help_text="ln of the standardized mass at the outcome (nats)")
    baseline = serializers.FloatField(help_text="Metaculus's continuous baseline score")
    peer = serializers.FloatField(allow_null=True, help_text="Metaculus's peer score; predictions only")
    crps = serializers.FloatField(help_text="against the step at the outcome, on u (lower is better)")

    def get_author(self, obj) -> str | None:
        return obj.author.get_username() if obj.author_id else None


class SideScoresSerializer(serializers.Serializer):
    log_score = serializers.FloatField()
    baseline = serializers.FloatField()
    crps = serializers.FloatField()


class SideBySideSerializer(serializers.Serializer):
    prior = SideScoresSerializer(allow_null=True)
    posterior = SideScoresSerializer(allow_null=True)
    pool = SideScoresSerializer(allow_null=True)


class PoolComparedSerializer(serializers.Serializer):
    method = serializers.CharField()
    kl = serializers.FloatField(allow_null=True, help_text="KL(posterior || pool) in nats; lower is better")
    skill = serializers.FloatField(allow_null=True, help_text="KL(posterior||prior) - KL(posterior||pool)")


class PoolMeansSerializer(serializers.Serializer):
    method = serializers.CharField()
    n_questions = serializers.IntegerField(help_text="questions where this pool is scored")
    mean_kl = serializers.FloatField(allow_null=True)
    mean_skill = serializers.FloatField(allow_null=True)


class ReportSerializer(serializers.Serializer):
    question = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.CharField()
    kl_posterior_prior = serializers.FloatField(allow_null=True, help_text="how much the expert moved (nats)")
    kl_posterior_pool = serializers.FloatField(allow_null=True, help_text="how far the pool was from the posterior")
    pool_skill = serializers.FloatField(allow_null=True, help_text="KL(posterior||prior) - KL(posterior||pool)")
    pool_method = serializers.CharField(allow_null=True, help_text="the organizer-facing default method")
    pools = PoolComparedSerializer(many=True, help_text="every pooling method against the posterior")
    n_predictions = serializers.IntegerField()
    outcome = OutcomeBriefSerializer(allow_null=True)
    annulled = serializers.BooleanField()
    side_by_side = SideBySideSerializer(help_text="outcome scores of prior, posterior and pool (null until scored)")
    beat_prior_share = serializers.FloatField(allow_null=True,
                                              help_text="share of predictions whose baseline beats the prior's")
    outcome_scores = OutcomeScoreSerializer(many=True)


class ReportMeansSerializer(serializers.Serializer):
    kl_posterior_prior = serializers.FloatField(allow_null=True)
    kl_posterior_pool = serializers.FloatField(allow_null=True)
    pool_skill = serializers.FloatField(allow_null=True)
    beat_prior_share = serializers.FloatField(allow_null=True)
    prior_baseline = serializers.FloatField(allow_null=True)
    posterior_baseline = serializers.FloatField(allow_null=True)
    pool_baseline = serializers.FloatField(allow_null=True)


class ReportAcrossSerializer(serializers.Serializer):
    n_questions = serializers.IntegerField()
    n_outcomes = serializers.IntegerField()
    n_annulled = serializers.IntegerField()
    n_outcomes_scored = serializers.IntegerField()
    moved_toward_truth = serializers.IntegerField(help_text="questions where posterior baseline > prior baseline")
    means = ReportMeansSerializer()
    pools = PoolMeansSerializer(many=True, help_text="per pooling method, means over the questions scored")


# --- questions -------------------------------------------------------------------------------------------------------


class QuestionInSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=limits.MAX_TITLE)
    description = serializers.CharField(required=False, allow_blank=True, max_length=limits.MAX_DESCRIPTION, default="")
    unit = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    scale = serializers.ChoiceField(choices=Scale.choices)
    lower = BoundField()
    upper = BoundField()
    open_lower = serializers.BooleanField(required=False, default=False)
    open_upper = serializers.BooleanField(required=False, default=False)
    closes_at = serializers.DateTimeField()
    expert = UserRefField(required=False)
    blind = serializers.BooleanField(required=False, default=True, help_text=(
        "blind weighting: the expert sees evidence under pseudonyms until the posterior is published"))


class QuestionSerializer(serializers.ModelSerializer):
    expert = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    lower = serializers.SerializerMethodField()
    upper = serializers.SerializerMethodField()
    draw_seed = serializers.SerializerMethodField()
    has_prior = serializers.SerializerMethodField()
    has_posterior = serializers.SerializerMethodField()
    outcome = serializers.SerializerMethodField()

    class Meta:
        model = Question
        fields = [
            "id", "title", "description", "unit", "scale", "lower", "upper", "open_lower", "open_upper",
            "closes_at", "expert", "created_by", "status", "created_at", "opened_at", "closed_at", "resolved_at",
            "scored_at", "awarded_at", "draw_commitment", "draw_seed", "has_prior", "has_posterior", "outcome",
            "blind", "closed_head",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_lower(self, obj):
        return obj.domain.format_x(obj.lower)

    @extend_schema_field(OpenApiTypes.STR)
    def get_upper(self, obj):
        return obj.domain.format_x(obj.upper)

    @extend_schema_field(OpenApiTypes.STR)
    def get_draw_seed(self, obj) -> str | None:
        # The seed stays secret until the award, so no one can compute the draw before the posterior is known.
        return obj.draw_seed if draw_seed_visible(obj) else None

    def get_has_prior(self, obj) -> bool:
        return hasattr(obj, "prior")

    def get_has_posterior(self, obj) -> bool:
        return hasattr(obj, "posterior")

    @extend_schema_field(OutcomeBriefSerializer(allow_null=True))
    def get_outcome(self, obj):
        outcome = getattr(obj, "outcome", None)
        return None if outcome is None else {"value": outcome.value, "bucket": outcome.bucket}


class EvidenceSerializer(serializers.ModelSerializer):
    """Evidence as the viewer may see it: the context's `author_names` (selectors.author_names) replaces authors by
    pseudonyms for an expert weighing blind; without it, authors show by username."""

    author = serializers.SerializerMethodField()
    parent = serializers.PrimaryKeyRelatedField(read_only=True)
    endorsements = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = ["id", "question", "author", "parent", "body", "sources", "created_at", "endorsements"]
        read_only_fields = fields

    def get_author(self, obj) -> str:
        return shown_author(obj, self.context.get("author_names"))

    def get_endorsements(self, obj) -> int:
        # Lists annotate the count (selectors.evidence_list); a single new row is counted here. `or` would re-query
        # every row whose annotated count is 0.
        count = getattr(obj, "n_endorsements", None)
        return obj.endorsements.count() if count is None else count


_DATETIME = serializers.DateTimeField()  # its to_representation, as every declared DateTimeField here gives it


class PredictionSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    evidence = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    distribution = serializers.SerializerMethodField()

    class Meta:
        model = Prediction
        fields = ["id", "question", "author", "created_at", "is_current", "evidence", "distribution"]
        read_only_fields = fields

    @extend_schema_field(StoredDistributionSerializer)
    def get_distribution(self, obj):
        return StoredDistributionSerializer(obj).data

    def to_representation(self, instance):
        # What the declared fields give (a test holds the two equal), without building them for each instance: a
        # submission's response and a page of predictions were spending more on the fields than on the data.
        return {
            "id": instance.pk,
            "question": instance.question_id,
            "author": instance.author.username,
            "created_at": _DATETIME.to_representation(instance.created_at),
            "is_current": instance.is_current,
            "evidence": [evidence.pk for evidence in instance.evidence.all()],
            "distribution": self.get_distribution(instance),
        }


class ScoreSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Score
        fields = ["prediction", "author", "kl", "log_score", "skill", "crps", "wasserstein", "rank"]
        read_only_fields = fields


class ScoresSerializer(serializers.Serializer):
    status = serializers.CharField()
    results = ScoreSerializer(many=True)


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ["id", "kind", "question", "state", "done", "total", "attempts", "result", "error", "created_at",
                  "queued_at", "started_at", "finished_at"]
        read_only_fields = fields


class LogEntrySerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    kind = serializers.CharField()
    id = serializers.IntegerField(source="object_id")
    author = serializers.CharField()
    created_at = serializers.CharField(help_text="exactly the ISO string the API shows for the object")
    content = serializers.JSONField(required=False, help_text=(
        "priors only: the spec of this version (a prior is overwritten in place when it changes)"))
    digest = serializers.CharField()
    chain = serializers.CharField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.kind != "prior":
            data.pop("content", None)
        return data


class ForecastLogSerializer(serializers.Serializer):
    closed_head = serializers.CharField(allow_null=True, help_text="the chain's value when the question closed")
    head = serializers.CharField(allow_null=True, help_text="the chain's last value")
    count = serializers.IntegerField()
    entries = LogEntrySerializer(many=True, help_text="empty until the expert's posterior is published")


# --- track records ---------------------------------------------------------------------------------------------------


class CalibrationSerializer(serializers.Serializer):
    bins = serializers.IntegerField(help_text="equal bins of [0, 1]")
    posterior = serializers.ListField(child=serializers.IntegerField(),
                                      help_text="PIT of the expert's posterior median in each scored prediction")
    outcome = serializers.ListField(child=serializers.IntegerField(),
                                    help_text="PIT of the outcome in each prediction scored against one")


class TrackRecordSerializer(serializers.Serializer):
    username = serializers.CharField()
    questions_scored = serializers.IntegerField()
    mean_kl = serializers.FloatField(allow_null=True)
    mean_skill = serializers.FloatField(allow_null=True)
    outcomes_scored = serializers.IntegerField()
    mean_baseline = serializers.FloatField(allow_null=True)
    mean_peer = serializers.FloatField(allow_null=True)
    calibration = CalibrationSerializer()
