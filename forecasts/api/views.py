"""HTTP API (contract in docs/design.md). Views parse input, call one service, and shape the output."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action, api_view, permission_classes, throttle_classes
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from amplification.interop import to_metaculus
from amplification.pooling import POOL_METHODS

from .. import jobs, notifications, records, selectors, services
from ..addresses import client_address
from ..arrival import arrival_of
from ..errors import Conflict, Invalid, NotFound
from ..models import Aggregate, Evidence, Job, Notification, Posterior, Prior, Question, Status
from ..permissions import crowd_visible, job_progress_visible, job_result_visible
from ..question_cache import cached_view, store_view
from ..throttles import LOGIN_THROTTLES, RegisterThrottle
from . import serializers as s
from .authentication import token_expired
from .pagination import BoundedListPagination

ERRORS = {
    400: OpenApiResponse(description="Bad input: {field: [message]}"),
    403: OpenApiResponse(description="Your role does not allow this"),
    404: OpenApiResponse(description="No such object"),
    409: OpenApiResponse(description="The question's status does not allow this"),
}


def parse_body(serializer_class, request):
    """Validate the request body with a serializer; a bad body raises the 400 `{field: [message]}`."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# The close rule as the schema states it on every write that the close refuses (docs/design.md, Close by arrival).
CLOSE_BY_ARRIVAL = (
    "Close by arrival: a request counts when it reached the platform (stamped by the first middleware, or by the "
    "trusted proxy's request-start header when FA_REQUEST_START_HEADER is set; a client's own header is ignored). "
    "One that arrived before closes_at is stored even if processed after it, within FA_CLOSE_GRACE_SECONDS (default "
    "5 s) past closes_at, while the question is still open; one that arrived at or after closes_at, or is processed "
    "after the grace, or reaches a question closed by hand, is a 409. A proxy's stamp is judged by the latest instant "
    "its digits allow (nginx: the end of its millisecond)."
)

THROTTLED = {429: OpenApiResponse(description="Too many requests: wait the seconds in Retry-After")}


@extend_schema(request=s.RegisterSerializer,
               responses={201: s.TokenSerializer, 400: ERRORS[400], **THROTTLED})
@api_view(["POST"])
@permission_classes([AllowAny])
@throttle_classes([RegisterThrottle])
def register(request):
    data = parse_body(s.RegisterSerializer, request)
    with transaction.atomic():
        user = services.user_register(username=data["username"], password=data["password"],
                                      address=client_address(request), email=data.get("email") or None)
        token, _ = Token.objects.get_or_create(user=user)
    return Response({"token": token.key}, status=status.HTTP_201_CREATED)


@extend_schema(request=s.CredentialsSerializer,
               responses={200: s.TokenSerializer, 400: ERRORS[400], **THROTTLED})
@api_view(["POST"])
@permission_classes([AllowAny])
@throttle_classes(LOGIN_THROTTLES)
def token(request):
    data = parse_body(s.CredentialsSerializer, request)
    user = authenticate(request, username=data["username"], password=data["password"])
    if user is None:
        raise AuthenticationFailed("wrong username or password")
    token, _ = Token.objects.get_or_create(user=user)
    if token_expired(token):
        # A fresh sign-in replaces a token past its lifetime rather than handing it back.
        token.delete()
        token = Token.objects.create(user=user)
    return Response({"token": token.key})


@extend_schema(request=None, responses={204: None})
@api_view(["POST"])
def logout(request):
    """Delete the caller's API token: it stops working at once. Sign in again for a new one."""
    services.user_tokens_revoke(user=request.user, reason="logout")
    return Response(status=status.HTTP_204_NO_CONTENT)


# Ids in paths are digits: anything else is no such object (404), never a lookup that raises.
ID_IN_PATH = r"[0-9]+"


class QuestionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.QuestionSerializer
    filterset_fields = ["status", "scale"]
    lookup_value_regex = ID_IN_PATH

    def get_queryset(self):
        return selectors.questions_visible(self.request.user)

    def list(self, request, *args, **kwargs):
        # The server's clock decides the status, with or without beat: close the due questions before filtering, so
        # ?status=open never lists a question whose closing time has passed.
        services.questions_close_due()
        return super().list(request, *args, **kwargs)

    def get_object(self):
        question = super().get_object()
        return services.question_refresh_status(question)

    @extend_schema(description="The question. Served from a cache shared by every viewer once the question is out of "
                               "draft (the same for all who may see it), replaced on every write.")
    def retrieve(self, request, *args, **kwargs):
        key, hit = cached_view(int(kwargs["pk"]), "api")
        if hit is not None and not services.question_due_to_close(hit["status"], hit["closes_at"]):
            return Response(hit["data"])
        question = self.get_object()
        data = self.get_serializer(question).data
        if question.status != Status.DRAFT:
            store_view(key, {"data": data, "status": question.status, "closes_at": question.closes_at})
        return Response(data)

    @extend_schema(request=s.QuestionInSerializer, responses={201: s.QuestionSerializer, **ERRORS})
    def create(self, request):
        data = parse_body(s.QuestionInSerializer, request)
        question = services.question_create(created_by=request.user, **data)
        return Response(s.QuestionSerializer(question).data, status=status.HTTP_201_CREATED)

    # --- lifecycle -------------------------------------------------------------------------------------------------

    @extend_schema(request=s.SpecInSerializer, responses={200: s.PriorSerializer, **ERRORS})
    @action(detail=True, methods=["get", "put"])
    def prior(self, request, pk=None):
        question = self.get_object()
        if request.method == "GET":
            return Response(s.PriorSerializer(get_object_or_404(Prior, question=question)).data)
        data = parse_body(s.SpecInSerializer, request)
        prior = services.prior_set(question=question, user=request.user, spec=data["spec"])
        return Response(s.PriorSerializer(prior).data)

    @extend_schema(
        request=s.SpecInSerializer,
        responses={200: s.StoredDistributionSerializer, 400: ERRORS[400], 404: ERRORS[404],
                   413: OpenApiResponse(description="The body is over the size limit")},
        description="The distribution a spec would be on this question (the stored-distribution shape), storing "
                    "nothing: for editors that draw it as the person types. A bad spec is the 400 a PUT of the prior "
                    "gives. Anyone signed in who may see the question.",
    )
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        # Visible as for GET of the question, but without its status refresh (which may close a due question): a
        # preview writes nothing. One query, and no joined prior or posterior rows.
        question = get_object_or_404(selectors.questions_visible(request.user).select_related(None), pk=pk)
        data = parse_body(s.SpecInSerializer, request)
        preview = services.distribution_preview(question=question, spec=data["spec"])
        return Response(s.StoredDistributionSerializer(preview).data)

    @extend_schema(request=None, responses={200: s.QuestionSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def open(self, request, pk=None):
        question = services.question_open(question=self.get_object(), user=request.user)
        return Response(s.QuestionSerializer(question).data)

    @extend_schema(request=None, responses={200: s.QuestionSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        question = services.question_close(question=self.get_object(), user=request.user)
        return Response(s.QuestionSerializer(question).data)

    # --- evidence and predictions ----------------------------------------------------------------------------------

    def _page(self, queryset, serializer_class, context=None):
        """One page of a question's list: a bare JSON list, with X-Total-Count and Link headers (api/pagination.py)."""
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True, context=context).data)

    @extend_schema(methods=["GET"], request=None, responses={200: s.EvidenceSerializer(many=True)})
    @extend_schema(methods=["POST"], request=s.EvidenceInSerializer, responses={201: s.EvidenceSerializer, **ERRORS},
                   description=CLOSE_BY_ARRIVAL)
    @action(detail=True, methods=["get", "post"], pagination_class=BoundedListPagination)
    def evidence(self, request, pk=None):
        if request.method == "GET":
            question = self.get_object()
            return self._page(selectors.evidence_list(question), s.EvidenceSerializer,
                              context=evidence_context(question, request.user))
        data = parse_body(s.EvidenceInSerializer, request)
        # The service reads the question once, under its lock, and answers 404 as get_object would.
        evidence = services.evidence_post(
            question=int(pk), author=request.user, body=data["body"], sources=data.get("sources", []),
            parent_id=data.get("parent"), arrived_at=arrival_of(request),
        )
        return Response(s.EvidenceSerializer(evidence, context=evidence_context(evidence.question, request.user)).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], request=None, responses={200: s.PredictionSerializer(many=True)})
    @extend_schema(methods=["POST"], request=s.PredictionInSerializer,
                   responses={201: s.PredictionSerializer, **ERRORS}, description=CLOSE_BY_ARRIVAL)
    @action(detail=True, methods=["get", "post"], pagination_class=BoundedListPagination)
    def predictions(self, request, pk=None):
        if request.method == "GET":
            question = self.get_object()
            current_only = request.query_params.get("current") in ("1", "true")
            qs = selectors.predictions_visible(question, request.user, current_only=current_only)
            return self._page(qs, s.PredictionSerializer)
        data = parse_body(s.PredictionInSerializer, request)
        # The service reads the question once, under its lock, and answers 404 as get_object would.
        prediction = services.prediction_submit(
            question=int(pk), author=request.user, spec=data["spec"], evidence_ids=data.get("evidence", []),
            arrived_at=arrival_of(request),
        )
        return Response(s.PredictionSerializer(prediction).data, status=status.HTTP_201_CREATED)

    # --- posterior, scores, aggregate ------------------------------------------------------------------------------

    @extend_schema(methods=["GET"], request=None, responses={200: s.PosteriorSerializer, **ERRORS})
    @extend_schema(methods=["PUT"], request=s.PosteriorInSerializer,
                   responses={200: s.PublishedPosteriorSerializer, **ERRORS})
    @action(detail=True, methods=["get", "put"])
    def posterior(self, request, pk=None):
        question = self.get_object()
        if request.method == "GET":
            return Response(s.PosteriorSerializer(get_object_or_404(Posterior, question=question)).data)
        data = parse_body(s.PosteriorInSerializer, request)
        posterior = services.posterior_publish(
            question=question, user=request.user, spec=data["spec"], influence=data.get("influence", [])
        )
        return Response(s.PublishedPosteriorSerializer(posterior).data)

    @extend_schema(request=None, responses={200: s.ForecastLogSerializer, **ERRORS},
                   description="The forecast log (docs/forecast-log.md): 409 before close; entries once the "
                               "posterior is published.")
    @action(detail=True, methods=["get"])
    def log(self, request, pk=None):
        return Response(s.ForecastLogSerializer(selectors.forecast_log(self.get_object())).data)

    @extend_schema(request=None, responses={200: s.ScoresSerializer})
    @action(detail=True, methods=["get"])
    def scores(self, request, pk=None):
        question = self.get_object()
        results = selectors.scores_list(question)
        return Response({"status": question.status, "results": s.ScoreSerializer(results, many=True).data})

    @extend_schema(request=None, responses={200: s.AggregateSerializer, **ERRORS},
                   parameters=[OpenApiParameter("method", str, enum=[*POOL_METHODS], default="equal",
                                                description="the pooling method (DESIGN.md, Pooling methods)")])
    @action(detail=True, methods=["get"])
    def aggregate(self, request, pk=None):
        method = request.query_params.get("method", "equal")
        if method not in POOL_METHODS:
            raise Invalid.field("method", f"unknown pooling method; allowed: {', '.join(POOL_METHODS)}")
        question = self.get_object()
        if not crowd_visible(question, request.user):
            # The pooled forecast would reveal the hidden predictions (permissions.crowd_visible says until when).
            raise Conflict("the pooled forecast is shown once the expert's posterior is published")
        return Response(s.AggregateSerializer(get_object_or_404(Aggregate, question=question, method=method)).data)

    @extend_schema(request=s.OutcomeInSerializer, responses={200: s.OutcomeSerializer, **ERRORS},
                   description="The expert or an organizer records the true value, once: after the posterior is "
                               "published, or (organizers) on a closed question whose expert never published.")
    @action(detail=True, methods=["post"])
    def outcome(self, request, pk=None):
        data = parse_body(s.OutcomeInSerializer, request)
        outcome = services.outcome_record(question=self.get_object(), user=request.user, value=data["value"])
        return Response(s.OutcomeSerializer(outcome).data)

    @extend_schema(request=None, responses={200: OpenApiResponse(description="Metaculus-style payloads")})
    @action(detail=True, methods=["get"], url_path="export/metaculus")
    def export_metaculus(self, request, pk=None):
        """The prior, posterior, pooled forecast and the caller's own prediction as Metaculus-style 201-point CDFs.

        Import goes the other way through any `spec` of type `cdf`, which takes the same 201 numbers.
        """
        question = self.get_object()
        rows = {
            "prior": Prior.objects.filter(question=question).first(),
            "posterior": Posterior.objects.filter(question=question).first(),
            "aggregate": question.aggregate if crowd_visible(question, request.user) else None,
            "mine": question.predictions.filter(author_id=request.user.pk, is_current=True).first(),
        }
        domain = question.domain
        return Response({name: to_metaculus(row.cdf, domain) if row else None for name, row in rows.items()})


class EvidenceEndorseView(viewsets.ViewSet):
    lookup_value_regex = ID_IN_PATH

    @extend_schema(request=None, responses={201: s.EvidenceSerializer, **ERRORS},
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)], description=CLOSE_BY_ARRIVAL)
    @action(detail=True, methods=["post"])
    def endorse(self, request, pk=None):
        evidence = get_object_or_404(Evidence.objects.select_related("question"), pk=pk)
        question = evidence.question
        if not selectors.questions_visible(request.user).filter(pk=question.pk).exists():
            raise NotFound("no such evidence")
        services.evidence_endorse(evidence=evidence, user=request.user, arrived_at=arrival_of(request))
        evidence = selectors.evidence_list(question).get(pk=evidence.pk)
        return Response(s.EvidenceSerializer(evidence, context=evidence_context(question, request.user)).data,
                        status=status.HTTP_201_CREATED)


class JobViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.JobSerializer
    lookup_value_regex = ID_IN_PATH

    def get_queryset(self):
        visible = selectors.questions_visible(self.request.user).values("id")
        return Job.objects.filter(question_id__in=visible).select_related("question")

    def retrieve(self, request, *args, **kwargs):
        job = self.get_object()
        body = self.get_serializer(job).data
        if not job_result_visible(job, request.user):
            body["result"] = None  # state and progress stay; what the job computed is not this user's to see
        if not job_progress_visible(job, request.user):
            for field in ("done", "total", "created_at", "queued_at", "started_at", "finished_at"):
                body[field] = None
        return Response(body)

    @extend_schema(request=None, responses={202: s.JobSerializer, **ERRORS},
                   description="Organizers: run a failed job again (409 unless it failed).")
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        job = jobs.job_retry(job=self.get_object(), user=request.user)
        return Response(self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED)


def evidence_context(question: Question, user) -> dict:
    """The serializer context every evidence response carries: how this user sees the authors (blind weighting)."""
    return {"author_names": selectors.author_names(question, user)}


def question_for(user, pk) -> Question:
    return get_object_or_404(selectors.questions_visible(user), pk=pk)


@extend_schema(request=None, responses={200: s.TrackRecordSerializer, **ERRORS},
               description="A user's track record over the questions whose crowd the caller may see (each question "
                           "counts the user's scored prediction once; means are null when the count is 0), with "
                           "calibration histograms of PIT values. 404 for an unknown user.")
@api_view(["GET"])
def user_record(request, username: str):
    return Response(s.TrackRecordSerializer(records.track_record(username=username, viewer=request.user)).data)


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's notifications, newest first; POST read/ marks some or all of them read."""

    serializer_class = s.NotificationSerializer
    queryset = Notification.objects.none()  # for the schema; get_queryset gives the caller's

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Notification.objects.filter(user=self.request.user).order_by("-created_at", "-id")

    @extend_schema(request=s.NotificationsReadSerializer, responses={200: s.MarkedSerializer, 400: ERRORS[400]})
    @action(detail=False, methods=["post"], url_path="read")
    def read(self, request):
        data = parse_body(s.NotificationsReadSerializer, request)
        ids = None if data.get("all") else data["ids"]
        return Response({"marked": notifications.notifications_mark_read(user=request.user, ids=ids)})
