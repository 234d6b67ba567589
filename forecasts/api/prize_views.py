"""HTTP API for prizes, audit, leaderboards, influence and competitions (contract in docs/design.md).

Views parse input with the serializers in prize_serializers.py, call one service in forecasts.prizes (writes) or
forecasts.selectors (reads), and shape the output.
"""

from __future__ import annotations

import csv
import io
import json

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import prizes, selectors
from ..errors import Conflict, Forbidden
from ..models import CompetitionAward
from ..permissions import can_read_audit, can_review_prizes, crowd_visible
from .prize_serializers import (
    AuditEventSerializer,
    AwardInSerializer,
    CompetitionAwardSerializer,
    CompetitionInSerializer,
    CompetitionLeaderboardSerializer,
    CompetitionSerializer,
    InfluenceSerializer,
    LeaderboardSerializer,
    PayoutSerializer,
    PrizeAllocationSerializer,
    PrizeExclusionInSerializer,
    PrizeExclusionSerializer,
    PrizesInSerializer,
)
from .views import ERRORS, parse_body, question_for

READ_ERRORS = {403: ERRORS[403], 404: ERRORS[404], 409: ERRORS[409]}
CSV_RESPONSE = {(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR, description="CSV with a header row")}


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


# --- question prizes --------------------------------------------------------------------------------------------------


def _flags_context(request, question, rows) -> dict:
    """The review flags for organizers; nobody else gets the key (so the field is null for them)."""
    if not can_review_prizes(request.user):
        return {}
    return {"flags": selectors.prize_review_flags(question, rows)}


def _allocation_body(request, allocation_row) -> dict:
    row = selectors.allocation_detail(allocation_row.pk)
    return PrizeAllocationSerializer(row, context=_flags_context(request, row.question, [row])).data


class QuestionPrizesView(APIView):
    @extend_schema(operation_id="questions_prizes_list", request=None,
                   responses={200: PrizeAllocationSerializer(many=True), **READ_ERRORS},
                   description="Allocations of the question's prizes: organizers see drafts, others the award only.")
    def get(self, request, pk: int):
        question = question_for(request.user, pk)
        rows = list(selectors.allocations_visible(question, request.user))
        return Response(PrizeAllocationSerializer(rows, many=True,
                                                  context=_flags_context(request, question, rows)).data)

    @extend_schema(operation_id="questions_prizes_create", request=PrizesInSerializer,
                   responses={201: PrizeAllocationSerializer, **ERRORS},
                   description="Organizers: compute a draft allocation of the accuracy and evidence pools.")
    def post(self, request, pk: int):
        question = question_for(request.user, pk)
        data = parse_body(PrizesInSerializer, request)
        draft = prizes.prizes_draft(question=question, user=request.user, **data)
        return Response(_allocation_body(request, draft), status=status.HTTP_201_CREATED)


class QuestionPrizesAwardView(APIView):
    @extend_schema(operation_id="questions_prizes_award", request=AwardInSerializer,
                   responses={200: PrizeAllocationSerializer, **ERRORS},
                   description="Organizers: make a draft final (the latest draft by default). A second award is a 409.")
    def post(self, request, pk: int):
        question = question_for(request.user, pk)
        data = parse_body(AwardInSerializer, request)
        awarded = prizes.prizes_award(question=question, user=request.user, allocation_id=data.get("allocation"))
        return Response(_allocation_body(request, awarded))


class QuestionPrizeExclusionsView(APIView):
    @extend_schema(operation_id="questions_prizes_exclusions_list", request=None,
                   responses={200: PrizeExclusionSerializer(many=True), **READ_ERRORS},
                   description="Organizers: the users excluded from the question's prizes, with the reasons.")
    def get(self, request, pk: int):
        question = question_for(request.user, pk)
        if not can_review_prizes(request.user):
            raise Forbidden("only organizers may read prize exclusions")
        return Response(PrizeExclusionSerializer(selectors.prize_exclusions(question), many=True).data)

    @extend_schema(operation_id="questions_prizes_exclusions_create", request=PrizeExclusionInSerializer,
                   responses={201: PrizeExclusionSerializer, **ERRORS},
                   description="Organizers, until the award: exclude a user from the question's prizes, with a "
                               "reason. Every draft is recomputed without them (the next-ranked wins). Audited.")
    def post(self, request, pk: int):
        question = question_for(request.user, pk)
        if not can_review_prizes(request.user):
            raise Forbidden("only organizers may exclude a user from prizes")
        data = parse_body(PrizeExclusionInSerializer, request)
        exclusion = prizes.prize_exclude(question=question, user=request.user, username=data["user"],
                                         reason=data["reason"])
        return Response(PrizeExclusionSerializer(exclusion).data, status=status.HTTP_201_CREATED)


# --- audit and payouts ------------------------------------------------------------------------------------------------


def _audit_events(request, pk: int):
    question = question_for(request.user, pk)
    if not can_read_audit(request.user):
        raise Forbidden("only organizers may read the audit log")
    return question, selectors.audit_events(question)


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
        awarded = selectors.allocation_awarded(question)
        if awarded is None:
            raise Conflict("the question's prizes are not awarded yet")
        rows = ([question.pk, awarded.pk, p.user.get_username(), p.kind, f"{p.amount:.2f}", awarded.currency,
                 p.prediction_id or "", p.evidence_id or ""]
                for p in awarded.payouts.all())
        header = ["question", "allocation", "user", "kind", "amount", "currency", "prediction", "evidence"]
        return _csv_response(f"question-{question.pk}-payouts.csv", header, rows)


# --- leaderboard and influence ----------------------------------------------------------------------------------------


class QuestionLeaderboardView(APIView):
    @extend_schema(operation_id="questions_leaderboard", request=None,
                   responses={200: LeaderboardSerializer, **READ_ERRORS},
                   description="Scores best first with ranks (empty until scored), and the payouts once awarded.")
    def get(self, request, pk: int):
        question = question_for(request.user, pk)
        board = selectors.question_leaderboard(question)
        return Response({**board, "payouts": PayoutSerializer(board["payouts"], many=True).data})


class QuestionInfluenceView(APIView):
    @extend_schema(operation_id="questions_influence", request=None,
                   responses={200: InfluenceSerializer(many=True), **READ_ERRORS},
                   description="The expert's influence weight (and note) per comment, once the posterior is out.")
    def get(self, request, pk: int):
        question = question_for(request.user, pk)
        if not crowd_visible(question, request.user):
            raise Conflict("influence weights are shown once the expert's posterior is published")
        rows = selectors.influence_list(question)
        return Response(InfluenceSerializer(rows, many=True).data)


# --- competitions -----------------------------------------------------------------------------------------------------


class CompetitionListView(APIView):
    @extend_schema(operation_id="competitions_list", request=None, responses={200: CompetitionSerializer(many=True)})
    def get(self, request):
        rows = selectors.competitions_list()[:1000]
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
        return Response(CompetitionSerializer(selectors.competition_get(pk)).data)


def _award_or_409(competition) -> CompetitionAward:
    award = selectors.competition_award(competition)
    if award is None:
        raise Conflict("the competition's prizes are not awarded yet")
    return award


class CompetitionLeaderboardView(APIView):
    @extend_schema(operation_id="competitions_leaderboard", request=None,
                   responses={200: CompetitionLeaderboardSerializer, 404: ERRORS[404]},
                   description="Across the competition's scored questions: total skill (0 where a user did not "
                               "predict), mean KL over the questions predicted, and their number; best first.")
    def get(self, request, pk: int):
        competition = selectors.competition_get(pk)
        award = selectors.competition_award(competition)
        paid = {p.user_id: str(p.amount) for p in award.payouts.all()} if award else {}
        results = [
            {"rank": e["rank"], "user": e["user"], "total_skill": e["total_skill"], "mean_kl": e["mean_kl"],
             "questions": e["questions"], "payout": paid.get(e["user_id"], "0.00") if award else None}
            for e in selectors.competition_leaderboard(competition)
        ]
        return Response({"competition": competition.pk, "currency": competition.currency, "awarded": award is not None,
                         "results": results})


class CompetitionPrizesView(APIView):
    @extend_schema(operation_id="competitions_prizes_retrieve", request=None,
                   responses={200: CompetitionAwardSerializer, **READ_ERRORS})
    def get(self, request, pk: int):
        award = _award_or_409(selectors.competition_get(pk))
        return Response(CompetitionAwardSerializer(award).data)

    @extend_schema(operation_id="competitions_prizes_create", request=None,
                   responses={201: CompetitionAwardSerializer, **READ_ERRORS},
                   description="Organizers: split the competition pool in proportion to each user's positive total "
                               "skill (largest remainder, exact to the cent). Final; a second call is a 409.")
    def post(self, request, pk: int):
        award = prizes.competition_award(competition=selectors.competition_get(pk), user=request.user)
        award = selectors.competition_award(award.competition)
        return Response(CompetitionAwardSerializer(award).data, status=status.HTTP_201_CREATED)


class CompetitionPayoutsCSVView(CSVView):
    @extend_schema(operation_id="competitions_payouts_csv", request=None, responses={**CSV_RESPONSE, **READ_ERRORS})
    def get(self, request, pk: int):
        competition = selectors.competition_get(pk)
        award = _award_or_409(competition)
        rows = ([competition.pk, p.user.get_username(), f"{p.amount:.2f}", award.currency] for p in award.payouts.all())
        return _csv_response(f"competition-{competition.pk}-payouts.csv",
                             ["competition", "user", "amount", "currency"], rows)
