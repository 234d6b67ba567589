"""The amplification report (docs/design.md, Outcomes): per question and across questions, as JSON and CSV.

Reads come from forecasts.selectors; a question's report shows only where its crowd may be seen
(permissions.crowd_visible), because the pool and the predictions' scores would reveal the hidden predictions.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..errors import Conflict
from ..permissions import crowd_visible
from .prize_views import CSV_RESPONSE, READ_ERRORS, CSVView, _csv_response
from .serializers import ReportAcrossSerializer, ReportSerializer
from .views import question_for

SIDES = ("prior", "posterior", "pool")
SCORE_FIELDS = ("log_score", "baseline", "crps")


def _report(request, pk: int) -> dict:
    question = question_for(request.user, pk)
    if not crowd_visible(question, request.user):
        raise Conflict("the report is shown once the crowd is visible (the expert's posterior is published)")
    return selectors.question_report(question)


class QuestionReportView(APIView):
    @extend_schema(operation_id="questions_report", request=None, responses={200: ReportSerializer, **READ_ERRORS},
                   description="How much the expert moved, how well the pool anticipated it, and every forecast "
                               "scored against the outcome (empty until scored). 409 while the crowd is hidden.")
    def get(self, request, pk: int):
        return Response(ReportSerializer(_report(request, pk)).data)


class QuestionReportCSVView(CSVView):
    @extend_schema(operation_id="questions_report_csv", request=None, responses={**CSV_RESPONSE, **READ_ERRORS},
                   description="The question's outcome scores as CSV, one row per forecast; the report's figures "
                               "repeat on every row.")
    def get(self, request, pk: int):
        report = _report(request, pk)
        body = ReportSerializer(report).data
        fixed = [report["question"], report["kl_posterior_prior"], report["kl_posterior_pool"],
                 report["pool_skill"], report["outcome"]["value"] if report["outcome"] else "", report["annulled"]]
        rows = ([*fixed, r["forecast"], r["prediction"] or "", r["author"] or "", r["log_score"], r["baseline"],
                 "" if r["peer"] is None else r["peer"], r["crps"]] for r in body["outcome_scores"])
        header = ["question", "kl_posterior_prior", "kl_posterior_pool", "pool_skill", "outcome", "annulled",
                  "forecast", "prediction", "author", "log_score", "baseline", "peer", "crps"]
        return _csv_response(f"question-{report['question']}-report.csv", header, rows)


def _row_across(report: dict) -> list:
    sides = report["side_by_side"]
    scores = [("" if sides[side] is None else sides[side][field]) for side in SIDES for field in SCORE_FIELDS]
    return [report["question"], report["title"], report["status"], report["kl_posterior_prior"],
            report["kl_posterior_pool"], report["pool_skill"], report["n_predictions"],
            report["outcome"]["value"] if report["outcome"] else "", report["annulled"], *scores,
            "" if report["beat_prior_share"] is None else report["beat_prior_share"]]


class ReportView(APIView):
    @extend_schema(operation_id="report_retrieve", request=None, responses={200: ReportAcrossSerializer},
                   description="Across the questions whose crowd the caller may see: the means, and how often "
                               "reading the crowd moved the expert toward the truth.")
    def get(self, request):
        return Response(ReportAcrossSerializer(selectors.report_across(selectors.reports_visible(request.user))).data)


class ReportCSVView(CSVView):
    @extend_schema(operation_id="report_csv", request=None, responses={**CSV_RESPONSE},
                   description="One row per question whose crowd the caller may see.")
    def get(self, request):
        header = ["question", "title", "status", "kl_posterior_prior", "kl_posterior_pool", "pool_skill",
                  "n_predictions", "outcome", "annulled",
                  *[f"{side}_{field}" for side in SIDES for field in SCORE_FIELDS], "beat_prior_share"]
        rows = (_row_across(r) for r in selectors.reports_visible(request.user))
        return _csv_response("report.csv", header, rows)
