"""Request and response shapes of the prize, audit, leaderboard, influence and competition endpoints.

Money is always a decimal string ("33.34"), never a float. Serializers check types and shapes; the limits come from
forecasts.limits and every rule is the services' (forecasts.prizes).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from amplification import allocation

from .. import limits
from ..models import (
    AuditEvent,
    Competition,
    CompetitionAward,
    Influence,
    Payout,
    PrizeAllocation,
    PrizeExclusion,
    Status,
)
from ..permissions import draw_seed_visible
from ..prizes import PAYABLE, PENDING_VERIFICATION, verified_user_ids
from .serializers import id_field


def extend_schema_field_object(description: str):
    return extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True,
                                "description": description})


MONEY = {"max_digits": limits.MONEY_DIGITS, "decimal_places": limits.MONEY_PLACES, "min_value": 0}
AMOUNT = {"max_digits": limits.MONEY_DIGITS, "decimal_places": limits.MONEY_PLACES}


class PrizesInSerializer(serializers.Serializer):
    accuracy_pool = serializers.DecimalField(**MONEY)
    evidence_pool = serializers.DecimalField(**MONEY)
    accuracy_rule = serializers.ChoiceField(choices=allocation.ACCURACY_RULES)
    evidence_rule = serializers.ChoiceField(choices=allocation.EVIDENCE_RULES)
    shares = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=1), required=False, allow_null=True, min_length=1,
        max_length=limits.MAX_SHARES, help_text="top_k only: fraction of the pool for rank 1, 2, ...; sums to 1",
    )
    power = serializers.FloatField(required=False, default=1.0,
                                   help_text="proportional_skill only: weight = max(skill, 0) ** power, "
                                             f"0 < power <= {limits.MAX_POWER}")
    min_payout = serializers.DecimalField(**MONEY, required=False, default="0.00",
                                          help_text="proportional_skill only: shares below this drop out")
    currency = serializers.RegexField(r"^[A-Za-z]{3}\Z", required=False, allow_null=True,
                                      help_text="ISO 4217 code; defaults to the platform's currency")


class AwardInSerializer(serializers.Serializer):
    allocation = id_field(required=False, allow_null=True,
                          help_text="the draft to award; the latest draft if omitted")


class PayoutSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    amount = serializers.DecimalField(**AMOUNT, read_only=True)
    verified = serializers.SerializerMethodField(help_text="whether the winner has a verified email (needed to pay)")
    status = serializers.SerializerMethodField(help_text='"payable", or "pending verification" until it is verified')

    class Meta:
        model = Payout
        fields = ["user", "kind", "amount", "prediction", "evidence", "verified", "status"]
        read_only_fields = fields

    def get_verified(self, obj) -> bool:
        return bool(verified_user_ids([obj.user_id]))

    def get_status(self, obj) -> str:
        return PAYABLE if self.get_verified(obj) else PENDING_VERIFICATION


class ReviewFlagSerializer(serializers.Serializer):
    """One reason for an organizer to look at a user before awarding (forecasts.selectors.prize_review_flags)."""

    user = serializers.CharField()
    kind = serializers.ChoiceField(choices=["near_posterior", "new_account", "no_other_activity",
                                            "shared_address_winner", "shared_address_evidence"])
    reason = serializers.CharField()
    excluded = serializers.BooleanField(help_text="the user is already excluded from this question's prizes")
    prediction = serializers.IntegerField(allow_null=True)
    evidence = serializers.IntegerField(allow_null=True)
    kl = serializers.FloatField(allow_null=True, help_text="near_posterior: KL(posterior || prediction), nats")
    address = serializers.CharField(allow_null=True, help_text="shared_address_*: the sign-up address shared")


class PrizeExclusionInSerializer(serializers.Serializer):
    # Blank is let through to the service, which names the rule ("must not be blank: say why").
    user = serializers.CharField(max_length=limits.MAX_USERNAME, allow_blank=True, help_text="a username")
    reason = serializers.CharField(max_length=limits.MAX_EXCLUSION_REASON, allow_blank=True, trim_whitespace=False)


class PrizeExclusionSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PrizeExclusion
        fields = ["id", "question", "user", "reason", "created_by", "created_at"]
        read_only_fields = fields


class PrizeAllocationSerializer(serializers.ModelSerializer):
    """``flags`` come from the context (``{"flags": {allocation id: [flag]}}``, built by the view from
    selectors.prize_review_flags for organizers only); without them the field is null."""

    accuracy_pool = serializers.DecimalField(**AMOUNT, read_only=True)
    evidence_pool = serializers.DecimalField(**AMOUNT, read_only=True)
    payouts = PayoutSerializer(many=True, read_only=True)
    draw = serializers.SerializerMethodField()
    job = serializers.SerializerMethodField()
    unallocated = serializers.SerializerMethodField()
    params = serializers.SerializerMethodField()
    flags = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    awarded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PrizeAllocation
        fields = ["id", "question", "state", "currency", "accuracy_pool", "evidence_pool", "accuracy_rule",
                  "evidence_rule", "params", "payouts", "draw", "job", "unallocated", "flags", "created_by",
                  "created_at", "awarded_by", "awarded_at"]
        read_only_fields = fields

    @extend_schema_field(ReviewFlagSerializer(many=True, allow_null=True,
                                              help_text="Organizers only (null for others): users to review "
                                                        "before the award, each with its reason"))
    def get_flags(self, obj):
        flags = self.context.get("flags")
        return None if flags is None else flags.get(obj.pk, [])

    @extend_schema_field_object("The draw transcript (docs/prizes.md); the seed is shown once awarded")
    def get_draw(self, obj):
        if obj.draw is None:
            return None
        if obj.state == PrizeAllocation.State.AWARDED and draw_seed_visible(obj.question):
            return obj.draw
        # Until the award, the seed stays secret: the message's first line is the seed itself.
        return {**obj.draw, "seed": None, "message": None}

    def get_job(self, obj) -> int | None:
        return (obj.params or {}).get("job")

    @extend_schema_field_object("Pools not paid, with the reason (e.g. no positive influence weight)")
    def get_unallocated(self, obj):
        return (obj.params or {}).get("unallocated") or {}

    @extend_schema_field_object("shares, power and min_payout as used")
    def get_params(self, obj):
        params = obj.params or {}
        return {key: params.get(key) for key in ("shares", "power", "min_payout")}


class LeaderboardRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    user = serializers.CharField()
    prediction = serializers.IntegerField()
    kl = serializers.FloatField()
    skill = serializers.FloatField()
    crps = serializers.FloatField()
    payout = serializers.DecimalField(**AMOUNT, allow_null=True,
                                      help_text="total paid to this user (accuracy and evidence), once awarded")


class LeaderboardSerializer(serializers.Serializer):
    status = serializers.CharField()
    currency = serializers.CharField(allow_null=True)
    results = LeaderboardRowSerializer(many=True)
    payouts = PayoutSerializer(many=True)


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "question", "action", "data"]
        read_only_fields = fields


class InfluenceSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="evidence.author.username", read_only=True)

    class Meta:
        model = Influence
        fields = ["evidence", "author", "weight", "note"]
        read_only_fields = fields


class CompetitionInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=limits.MAX_COMPETITION_NAME)
    questions = serializers.ListField(child=id_field(), max_length=limits.MAX_COMPETITION_QUESTIONS)
    pool = serializers.DecimalField(**MONEY)
    currency = serializers.RegexField(r"^[A-Za-z]{3}\Z", required=False, allow_null=True)


class CompetitionSerializer(serializers.ModelSerializer):
    pool = serializers.DecimalField(**AMOUNT, read_only=True)
    questions = serializers.SerializerMethodField()

    def get_questions(self, obj) -> list[int]:
        # Drafts are never listed (competition_create refuses them; this guards rows from before that rule).
        return sorted(q.pk for q in obj.questions.all() if q.status != Status.DRAFT)

    class Meta:
        model = Competition
        fields = ["id", "name", "questions", "pool", "currency", "created_at"]
        read_only_fields = fields


class CompetitionRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    user = serializers.CharField()
    total_skill = serializers.FloatField()
    mean_kl = serializers.FloatField()
    questions = serializers.IntegerField()
    payout = serializers.DecimalField(**AMOUNT, allow_null=True)


class CompetitionLeaderboardSerializer(serializers.Serializer):
    competition = serializers.IntegerField()
    currency = serializers.CharField()
    awarded = serializers.BooleanField()
    results = CompetitionRowSerializer(many=True)


class CompetitionPayoutSerializer(serializers.Serializer):
    user = serializers.CharField(source="user.username")
    amount = serializers.DecimalField(**AMOUNT)


class CompetitionAwardSerializer(serializers.ModelSerializer):
    competition = serializers.IntegerField(source="competition_id")
    pool = serializers.DecimalField(**AMOUNT)
    payouts = CompetitionPayoutSerializer(many=True)

    class Meta:
        model = CompetitionAward
        fields = ["competition", "pool", "currency", "rule", "awarded_at", "payouts"]
        read_only_fields = fields
