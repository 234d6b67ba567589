"""HTTP API for prizes, audit, leaderboards, influence and competitions (contract in DESIGN.md).

Views parse input with the serializers below, call one service in forecasts.prizes, and shape the output. Money is
always a decimal string ("33.34"), never a float.
"""

from __future__ import annotations

import csv
import io
import json

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from amplification import allocation

from .. import prizes, services
from ..errors import Conflict, Forbidden
from ..models import AuditEvent, Competition, Influence, Payout, PrizeAllocation, Status
from .serializers import id_field
from .views import ERRORS, parse_body, question_for

READ_ERRORS = {403: ERRORS[403], 404: ERRORS[404], 409: ERRORS[409]}
CSV_RESPONSE = {(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR, description="CSV with a header row")}
# Evidence and posterior become public together: the influence weights explain the posterior.
INFLUENCE_PUBLIC_FROM = (Status.RESOLVED, Status.SCORED, Status.AWARDED)


class CSVRenderer(BaseRenderer):
    """Lets a client ask for text/csv; the CSV views build their own response, errors are rendered as JSON text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str | bytes):
            return data
        return json.dumps(data, default=str)


def _csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class CSVView(APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]


# --- serializers ----------------------------------------------------------------------------------------------------


def extend_schema_field_object(description: str):
    return extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True,
                                "description": description})


MONEY = {"max_digits": 14, "decimal_places": 2, "min_value": 0}


class PrizesInSerializer(serializers.Serializer):
    accuracy_pool = serializers.DecimalField(**MONEY)
    evidence_pool = serializers.DecimalField(**MONEY)
    accuracy_rule = serializers.ChoiceField(choices=allocation.ACCURACY_RULES)
    evidence_rule = serializers.ChoiceField(choices=allocation.EVIDENCE_RULES)
    shares = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=1), required=False, allow_null=True, min_length=1,
        max_length=prizes.MAX_SHARES, help_text="top_k only: fraction of the pool for rank 1, 2, ...; sums to 1",
    )
    power = serializers.FloatField(required=False, default=1.0, min_value=0,
                                   help_text="proportional_skill only: weight = max(skill, 0) ** power, power > 0")
    min_payout = serializers.DecimalField(**MONEY, required=False, default="0.00",
                                          help_text="proportional_skill only: shares below this drop out")
    currency = serializers.RegexField(r"^[A-Za-z]{3}\Z", required=False, allow_null=True,
                                      help_text="ISO 4217 code; defaults to the platform's currency")

    def validate_power(self, value):
        if not 0 < value <= allocation.MAX_POWER:
            raise serializers.ValidationError(f"must be > 0 and <= {allocation.MAX_POWER}")
        return value


class AwardInSerializer(serializers.Serializer):
    allocation = id_field(required=False, allow_null=True,
                          help_text="the draft to award; the latest draft if omitted")


class PayoutSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = Payout
        fields = ["user", "kind", "amount", "prediction", "evidence"]
        read_only_fields = fields


class PrizeAllocationSerializer(serializers.ModelSerializer):
    accuracy_pool = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    evidence_pool = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    payouts = PayoutSerializer(many=True, read_only=True)
    draw = serializers.SerializerMethodField()
    job = serializers.SerializerMethodField()
    unallocated = serializers.SerializerMethodField()
    params = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    awarded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PrizeAllocation
        fields = ["id", "question", "state", "currency", "accuracy_pool", "evidence_pool", "accuracy_rule",
                  "evidence_rule", "params", "payouts", "draw", "job", "unallocated", "created_by", "created_at",
                  "awarded_by", "awarded_at"]
        read_only_fields = fields

    @extend_schema_field_object("The draw transcript (docs/prizes.md); the seed is shown once awarded")
    def get_draw(self, obj):
        if obj.draw is None:
            return None
        if obj.state == PrizeAllocation.State.AWARDED:
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
    payout = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True,
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
    name = serializers.CharField(max_length=200)
    questions = serializers.ListField(child=id_field(),
                                      max_length=1000)
    pool = serializers.DecimalField(**MONEY)
    currency = serializers.RegexField(r"^[A-Za-z]{3}\Z", required=False, allow_null=True)


class CompetitionSerializer(serializers.ModelSerializer):
    pool = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    questions = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

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
    payout = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)


class CompetitionLeaderboardSerializer(serializers.Serializer):
    competition = serializers.IntegerField()
    currency = serializers.CharField()
    awarded = serializers.BooleanField()
    results = CompetitionRowSerializer(many=True)


class CompetitionPayoutSerializer(serializers.Serializer):
    user = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class CompetitionAwardSerializer(serializers.Serializer):
    competition = serializers.IntegerField()
    pool = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()
    rule = serializers.CharField()
    awarded_at = serializers.DateTimeField()
    payouts = CompetitionPayoutSerializer(many=True)


# --- question prizes --------------------------------------------------------------------------------------------------


def _allocation_body(allocation_row: PrizeAllocation) -> dict:
    allocation_row = PrizeAllocation.objects.select_related("created_by", "awarded_by").prefetch_related(
        "payouts__user").get(pk=allocation_row.pk)
    return PrizeAllocationSerializer(allocation_row).data


class QuestionPrizesView(APIView):
    @extend_schema(operation_id="questions_prizes_list", request=None,
                   responses={200: PrizeAllocationSerializer(many=True), **READ_ERRORS},
                   description="Allocations of the question's prizes: organizers see drafts, others the award only.")
    def get(self, request, pk: int):
        question = question_for(request.user, pk)
        rows = prizes.allocations_visible(question, request.user)
        return Response(PrizeAllocationSerializer(rows, many=True).data)

    @extend_schema(operation_id="questions_prizes_create", request=PrizesInSerializer,
                   responses={201: PrizeAllocationSerializer, **ERRORS},
                   description="Organizers: compute a draft allocation of the accuracy and evidence pools.")
    def post(self, request, pk: int):
        question = question_for(request.user, pk)
        data = parse_body(PrizesInSerializer, request)
        draft = prizes.prizes_draft(question=question, user=request.user, **data)
        return Response(_allocation_body(draft), status=status.HTTP_201_CREATED)


class QuestionPrizesAwardView(APIView):
    @extend_schema(operation_id="questions_prizes_award", request=AwardInSerializer,
                   responses={200: PrizeAllocationSerializer, **ERRORS},
                   description="Organizers: make a draft final (the latest draft by default). A second award is a 409.")
    def post(self, request, pk: int):
        question = question_for(request.user, pk)
        data = parse_body(AwardInSerializer, request)
        awarded = prizes.prizes_award(question=question, user=request.user, allocation_id=data.get("allocation"))
        return Response(_allocation_body(awarded))


# --- audit and payouts ------------------------------------------------------------------------------------------------


def _audit_events(request, pk: int):
    question = question_for(request.user, pk)
    if not services.is_organizer(request.user):
        raise Forbidden("only organizers may read the audit log")
    return question, AuditEvent.objects.filter(question=question).select_related("actor").order_by("at", "id")


class QuestionAuditView(APIView):
    @extend_schema(operation_id="questions_audit_list", request=None,
                   responses={200: AuditEventSerializer(many=True), **READ_ERRORS},
                   description="Organizers: every recorded step on the question, oldest first.")
    def get(self, request, pk: int):
        _, events = _audit_events(request, pk)
        return Response(AuditEventSerializer(events, many=True).data)


class QuestionAuditCSVView(CSVView):
    @extend_schema(operation_id="questions_audit_csv", request=None, responses={**CSV_RESPONSE, **READ_ERRORS},
                   description="Organizers: the audit log as CSV (data as JSON in the last column).")
    def get(self, request, pk: int):
        question, events = _audit_events(request, pk)
        rows = ([e.pk, e.at.isoformat(), e.actor.get_username() if e.actor else "", e.action,
                 json.dumps(e.data, sort_keys=True, default=str)] for e in events)
        return _csv_response(f"question-{question.pk}-audit.csv", ["id", "at", "actor", "action", "data"], rows)


class QuestionPayoutsCSVView(CSVView):
    @extend_schema(operation_id="questions_payouts_csv", request=None, responses={**CSV_RESPONSE, **READ_ERRORS},
                   description="The awarded payouts as CSV, one row per payout (409 until awarded).")
    def get(self, request, pk: int):
        question = question_for(request.user, pk)
        awarded = question.allocations.filter(state=PrizeAllocation.State.AWARDED).first()
        if awarded is None:
            raise Conflict("the question's prizes are not awarded yet")
        rows = ([question.pk, awarded.pk, p.user.get_username(), p.kind, f"{p.amount:.2f}", awarded.currency,
                 p.prediction_id or "", p.evidence_id or ""]
                for p in awarded.payouts.select_related("user"))
        header = ["question", "allocation", "user", "kind", "amount", "currency", "prediction", "evidence"]
        return _csv_response(f"question-{question.pk}-payouts.csv", header, rows)


# --- leaderboard and influence ----------------------------------------------------------------------------------------


class QuestionLeaderboardView(APIView):
    @extend_schema(operation_id="questions_leaderboard", request=None,
                   responses={200: LeaderboardSerializer, **READ_ERRORS},
                   description="Scores best first with ranks (empty until scored), and the payouts once awarded.")
    def get(self, request, pk: int):
        question = question_for(request.user, pk)
        board = prizes.question_leaderboard(question)
        return Response({**board, "payouts": PayoutSerializer(board["payouts"], many=True).data})


class QuestionInfluenceView(APIView):
    @extend_schema(operation_id="questions_influence", request=None,
                   responses={200: InfluenceSerializer(many=True), **READ_ERRORS},
                   description="The expert's influence weight (and note) per comment, once the posterior is out.")
    def get(self, request, pk: int):
        question = question_for(request.user, pk)
        if question.status not in INFLUENCE_PUBLIC_FROM:
            raise Conflict("influence weights are shown once the expert's posterior is published")
        rows = Influence.objects.filter(question=question).select_related("evidence__author").order_by("evidence_id")
        return Response(InfluenceSerializer(rows, many=True).data)


# --- competitions -----------------------------------------------------------------------------------------------------


class CompetitionListView(APIView):
    @extend_schema(operation_id="competitions_list", request=None, responses={200: CompetitionSerializer(many=True)})
    def get(self, request):
        rows = Competition.objects.prefetch_related("questions").order_by("-created_at", "-id")[:1000]
        return Response(CompetitionSerializer(rows, many=True).data)

    @extend_schema(operation_id="competitions_create", request=CompetitionInSerializer,
                   responses={201: CompetitionSerializer, **ERRORS},
                   description="Organizers: a competition over several questions with its own pool.")
    def post(self, request):
        data = parse_body(CompetitionInSerializer, request)
        competition = prizes.competition_create(
            user=request.user, name=data["name"], question_ids=data["questions"], pool=data["pool"],
            currency=data.get("currency"),
        )
        return Response(CompetitionSerializer(competition).data, status=status.HTTP_201_CREATED)


class CompetitionDetailView(APIView):
    @extend_schema(operation_id="competitions_retrieve", request=None,
                   responses={200: CompetitionSerializer, 404: ERRORS[404]})
    def get(self, request, pk: int):
        return Response(CompetitionSerializer(prizes.competition_get(pk)).data)


def _award_body(event: AuditEvent) -> dict:
    return {**{k: event.data[k] for k in ("competition", "pool", "currency", "rule")}, "awarded_at": event.at,
            "payouts": [{"user": p["user"], "amount": p["amount"]} for p in event.data["payouts"]]}


class CompetitionLeaderboardView(APIView):
    @extend_schema(operation_id="competitions_leaderboard", request=None,
                   responses={200: CompetitionLeaderboardSerializer, 404: ERRORS[404]},
                   description="Across the competition's scored questions: total skill (0 where a user did not "
                               "predict), mean KL over the questions predicted, and their number; best first.")
    def get(self, request, pk: int):
        competition = prizes.competition_get(pk)
        event = prizes.competition_award_event(competition)
        paid = {p["user_id"]: p["amount"] for p in event.data["payouts"]} if event else {}
        results = [
            {"rank": e["rank"], "user": e["user"], "total_skill": e["total_skill"], "mean_kl": e["mean_kl"],
             "questions": e["questions"], "payout": paid.get(e["user_id"], "0.00") if event else None}
            for e in prizes.competition_leaderboard(competition)
        ]
        return Response({"competition": competition.pk, "currency": competition.currency, "awarded": event is not None,
                         "results": results})


class CompetitionPrizesView(APIView):
    @extend_schema(operation_id="competitions_prizes_retrieve", request=None,
                   responses={200: CompetitionAwardSerializer, **READ_ERRORS})
    def get(self, request, pk: int):
        event = prizes.competition_award_event(prizes.competition_get(pk))
        if event is None:
            raise Conflict("the competition's prizes are not awarded yet")
        return Response(CompetitionAwardSerializer(_award_body(event)).data)

    @extend_schema(operation_id="competitions_prizes_create", request=None,
                   responses={201: CompetitionAwardSerializer, **READ_ERRORS},
                   description="Organizers: split the competition pool in proportion to each user's positive total "
                               "skill (largest remainder, exact to the cent). Final; a second call is a 409.")
    def post(self, request, pk: int):
        event = prizes.competition_award(competition=prizes.competition_get(pk), user=request.user)
        return Response(CompetitionAwardSerializer(_award_body(event)).data, status=status.HTTP_201_CREATED)


class CompetitionPayoutsCSVView(CSVView):
    @extend_schema(operation_id="competitions_payouts_csv", request=None, responses={**CSV_RESPONSE, **READ_ERRORS})
    def get(self, request, pk: int):
        competition = prizes.competition_get(pk)
        event = prizes.competition_award_event(competition)
        if event is None:
            raise Conflict("the competition's prizes are not awarded yet")
        rows = ([competition.pk, p["user"], p["amount"], event.data["currency"]] for p in event.data["payouts"])
        return _csv_response(f"competition-{competition.pk}-payouts.csv",
                             ["competition", "user", "amount", "currency"], rows)
