"""Recording the outcome, scoring every forecast against it, and the amplification report (docs/design.md, Outcomes).

The compute question's range is 1e2..1e18 on a log axis, both sides open: u = ln(x / 1e2) / ln(1e16), so 1e10 sits at
u = 8 / 16 = 0.5, which Metaculus places in bucket floor(200 x 0.5 + 1 - 1e-10) = 100.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import timedelta

import pytest
from django.utils import timezone

from forecasts import runs, services
from forecasts.errors import Invalid
from forecasts.models import AuditEvent, Job, OutcomeScore, Status
from tests.builders import CLOSE, NO_CHANGE, WRONG_WAY, build_scored_question

WHOLE_CENTURY = {"type": "histogram", "bins": [{"lo": "2020-01-01", "hi": "2100-12-31", "p": 1}]}


@pytest.fixture(name="scored")
def scored_fixture(django_capture_on_commit_callbacks, expert, alice, bob, carol):
    return build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                 predictions={alice: CLOSE, bob: NO_CHANGE, carol: WRONG_WAY})


def _record(client, question, value, capture=None):
    url = f"/api/questions/{question.pk}/outcome/"
    if capture is None:
        return client.post(url, {"value": value}, format="json")
    with capture(execute=True):
        return client.post(url, {"value": value}, format="json")


def _closed_range_question(expert, capture):
    """Linear 0..100, both sides closed, taken to `resolved` with a posterior."""
    with capture(execute=True):
        question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=7),
                                            title="closed range", scale="linear", lower=0, upper=100)
        services.prior_set(question=question, user=expert, spec={"type": "normal", "mean": 50, "sd": 20})
        services.question_open(question=question, user=expert)
        services.question_close(question=question, user=expert)
        services.posterior_publish(question=question, user=expert, spec={"type": "normal", "mean": 40, "sd": 10})
    question.refresh_from_db()
    return question


# --- who and when ----------------------------------------------------------------------------------------------------


def test_it_records_the_outcome_once_for_the_expert(scored, expert, client_for, django_capture_on_commit_callbacks):
    response = _record(client_for(expert), scored, 1e10, django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.data
    assert response.data["value"] == 1e10 and response.data["bucket"] == 100
    assert response.data["recorded_by"] == "expert" and response.data["job"] is not None
    assert AuditEvent.objects.filter(question=scored, action="outcome.record").count() == 1
    again = _record(client_for(expert), scored, 1e11)
    assert again.status_code == 409


def test_it_refuses_commenters_and_outsiders(scored, alice, outsider, client_for):
    assert _record(client_for(alice), scored, 1e10).status_code == 403
    assert _record(client_for(outsider), scored, 1e10).status_code == 403


def test_it_refuses_before_close(open_question, expert, organizer, client_for):
    assert _record(client_for(expert), open_question, 1e10).status_code == 409
    assert _record(client_for(organizer), open_question, 1e10).status_code == 409


def test_it_refuses_the_expert_before_the_posterior(closed_question, expert, client_for):
    assert _record(client_for(expert), closed_question, 1e10).status_code == 409


def test_it_lets_an_organizer_record_on_a_closed_question_without_posterior(
    closed_question, expert, organizer, client_for, django_capture_on_commit_callbacks
):
    response = _record(client_for(organizer), closed_question, 1e10, django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.data
    report = client_for(organizer).get(f"/api/questions/{closed_question.pk}/report/")
    assert report.status_code == 200, report.data
    forecasts = [r["forecast"] for r in report.data["outcome_scores"]]
    assert "posterior" not in forecasts and forecasts[0] == "prior"
    assert report.data["side_by_side"]["posterior"] is None and report.data["kl_posterior_prior"] is None
    # A posterior written knowing the truth would measure nothing.
    late = client_for(expert).put(f"/api/questions/{closed_question.pk}/posterior/",
                                  {"spec": {"type": "lognormal", "median": 1e9, "sigma": 2}}, format="json")
    assert late.status_code == 409


# --- the value -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2030-01-01", True, [1], {"x": 1}, "soon"])
def test_it_refuses_the_wrong_kind_naming_value(scored, expert, client_for, value):
    response = _record(client_for(expert), scored, value)
    assert response.status_code == 400 and "value" in response.data, response.data


def test_it_refuses_nan_naming_value(scored, expert):
    with pytest.raises(Invalid) as caught:
        services.outcome_record(question=scored, user=expert, value=math.nan)
    assert "value" in caught.value.detail


def test_it_refuses_a_number_on_a_date_question(expert, client_for, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=7),
                                            title="when", scale="date", lower="2020-01-01", upper="2100-12-31")
        services.prior_set(question=question, user=expert, spec=WHOLE_CENTURY)
        services.question_open(question=question, user=expert)
        services.question_close(question=question, user=expert)
        services.posterior_publish(question=question, user=expert,
                                   spec=WHOLE_CENTURY)
    response = _record(client_for(expert), question, 20000)
    assert response.status_code == 400 and "value" in response.data
    # 2060-06-30 is 14,791 days after 2020-01-01, in a range of 29,584 days: u = 0.49996, bucket 100.
    ok = _record(client_for(expert), question, "2060-06-30", django_capture_on_commit_callbacks)
    assert ok.status_code == 200 and ok.data["bucket"] == math.floor(200 * 14791 / 29584 + 1 - 1e-10) == 100


@pytest.mark.parametrize("value", [-1, 100.5, "below", "above"])
def test_it_refuses_values_beyond_a_closed_bound(expert, client_for, django_capture_on_commit_callbacks, value):
    question = _closed_range_question(expert, django_capture_on_commit_callbacks)
    response = _record(client_for(expert), question, value)
    assert response.status_code == 400 and "value" in response.data, response.data


@pytest.mark.parametrize(("value", "bucket"), [
    (1e10, 100),  # u = 0.5
    (1e18, 200),  # on the upper bound: u is exactly 1
    (1e2, 1),  # on the lower bound: u = 0 falls in the first inside bucket
    (1e1, 0), ("below", 0),  # below an open lower side
    (1e19, 201), ("above", 201),  # above an open upper side
])
def test_it_places_the_bucket_as_metaculus_does(scored, expert, client_for, value, bucket):
    response = _record(client_for(expert), scored, value)
    assert response.status_code == 200, response.data
    assert response.data["bucket"] == bucket


def test_it_places_the_upper_bound_of_a_closed_range_in_bucket_200(expert, client_for,
                                                                   django_capture_on_commit_callbacks):
    question = _closed_range_question(expert, django_capture_on_commit_callbacks)
    assert _record(client_for(expert), question, 100).data["bucket"] == 200


def test_it_annuls_without_bucket_or_scores(scored, expert, client_for, django_capture_on_commit_callbacks):
    response = _record(client_for(expert), scored, "annulled", django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert response.data["bucket"] is None and response.data["job"] is None
    assert not OutcomeScore.objects.filter(question=scored).exists()
    report = client_for(expert).get(f"/api/questions/{scored.pk}/report/").data
    assert report["annulled"] is True and report["outcome_scores"] == []
    assert client_for(expert).get(f"/api/questions/{scored.pk}/").data["outcome"] == {"value": "annulled",
                                                                                      "bucket": None}


# --- the job ---------------------------------------------------------------------------------------------------------


def test_it_writes_one_row_per_forecast_and_a_rerun_leaves_the_same_rows(
    scored, expert, client_for, django_capture_on_commit_callbacks
):
    _record(client_for(expert), scored, 1e9, django_capture_on_commit_callbacks)
    rows = list(OutcomeScore.objects.filter(question=scored).order_by("forecast", "prediction_id")
                .values_list("forecast", "prediction_id", "log_score", "baseline", "peer", "crps"))
    assert sorted(r[0] for r in rows) == ["pool", "posterior", "prediction", "prediction", "prediction", "prior"]
    peers = [r[4] for r in rows if r[0] == "prediction"]
    assert abs(math.fsum(peers)) < 1e-9  # peer scores sum to zero over the predictions
    assert all(r[4] is None for r in rows if r[0] != "prediction")
    # A second delivery of a finished job does nothing; a fresh job (a re-run) rewrites the same rows.
    job = Job.objects.get(question=scored, kind=Job.Kind.OUTCOME)
    assert runs.outcome_score(job_id=job.pk) is None
    rerun = Job.objects.create(question=scored, kind=Job.Kind.OUTCOME)
    runs.outcome_score(job_id=rerun.pk)
    again = list(OutcomeScore.objects.filter(question=scored).order_by("forecast", "prediction_id")
                 .values_list("forecast", "prediction_id", "log_score", "baseline", "peer", "crps"))
    assert again == rows


# --- the report ------------------------------------------------------------------------------------------------------


def test_it_hides_the_report_while_the_crowd_is_hidden(closed_question, expert, organizer, client_for):
    for user in (expert, organizer):
        assert client_for(user).get(f"/api/questions/{closed_question.pk}/report/").status_code == 409
        assert client_for(user).get(f"/api/questions/{closed_question.pk}/report.csv").status_code == 409


def test_it_reports_before_and_after_the_outcome(scored, expert, outsider, client_for,
                                                 django_capture_on_commit_callbacks):
    before = client_for(outsider).get(f"/api/questions/{scored.pk}/report/").data
    assert before["outcome"] is None and before["outcome_scores"] == [] and before["annulled"] is False
    assert before["kl_posterior_prior"] > 0 and before["kl_posterior_pool"] > 0
    assert before["n_predictions"] == 3 and before["pool_method"] == "equal"
    assert math.isclose(before["pool_skill"], before["kl_posterior_prior"] - before["kl_posterior_pool"])
    _record(client_for(expert), scored, 1e9, django_capture_on_commit_callbacks)
    after = client_for(outsider).get(f"/api/questions/{scored.pk}/report/").data
    assert after["outcome"] == {"value": 1e9, "bucket": math.floor(200 * 7 / 16 + 1 - 1e-10)}
    assert [r["forecast"] for r in after["outcome_scores"][:3]] == ["prior", "posterior", "pool"]
    predictions = [r for r in after["outcome_scores"] if r["forecast"] == "prediction"]
    assert {r["author"] for r in predictions} == {"alice", "bob", "carol"}
    assert all(r["prediction"] is None and r["author"] is None for r in after["outcome_scores"][:3])
    sides = after["side_by_side"]
    assert sides["prior"]["baseline"] == after["outcome_scores"][0]["baseline"]
    beat = sum(r["baseline"] > sides["prior"]["baseline"] for r in predictions) / 3
    assert after["beat_prior_share"] == beat
    assert client_for(outsider).get(f"/api/questions/{scored.pk}/").data["outcome"]["bucket"] == 88


def test_it_serves_the_report_as_csv(scored, expert, client_for, django_capture_on_commit_callbacks):
    _record(client_for(expert), scored, 1e9, django_capture_on_commit_callbacks)
    response = client_for(expert).get(f"/api/questions/{scored.pk}/report.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["forecast"] for r in rows] == ["prior", "posterior", "pool", "prediction", "prediction", "prediction"]
    assert rows[0]["peer"] == "" and rows[3]["peer"] != ""


def test_it_sums_up_across_questions(scored, expert, alice, client_for, django_capture_on_commit_callbacks):
    _record(client_for(expert), scored, 1e9, django_capture_on_commit_callbacks)
    report = client_for(alice).get(f"/api/questions/{scored.pk}/report/").data
    across = client_for(alice).get("/api/report/").data
    assert across["n_questions"] == 1 and across["n_outcomes"] == 1 and across["n_outcomes_scored"] == 1
    sides = report["side_by_side"]
    assert across["moved_toward_truth"] == int(sides["posterior"]["baseline"] > sides["prior"]["baseline"])
    assert across["means"]["prior_baseline"] == sides["prior"]["baseline"]
    assert across["means"]["kl_posterior_prior"] == report["kl_posterior_prior"]
    # The same share in the sum as in the question's report (both counted in SQL; checked against the rows above).
    assert across["means"]["beat_prior_share"] == report["beat_prior_share"]
    csv_rows = list(csv.DictReader(io.StringIO(client_for(alice).get("/api/report.csv").content.decode())))
    assert len(csv_rows) == 1 and csv_rows[0]["question"] == str(scored.pk)


def test_it_leaves_hidden_crowds_out_of_the_sum(closed_question, alice, client_for):
    assert closed_question.status == Status.CLOSED
    assert client_for(alice).get("/api/report/").data["n_questions"] == 0



def test_the_sum_reads_every_question_in_the_same_statements_as_one_and_the_same_reports(
    scored, expert, organizer, alice, bob, carol, client_for, closed_question, django_capture_on_commit_callbacks
):
    """GET /api/report/ reads a fixed number of statements however many questions it sums, and each question's part
    of it is what that question's own report (GET .../report/) says. The questions differ in everything the report
    reads: outcome scored or not, annulled, with a posterior or without (an organizer's outcome), a pool or none."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client_for(alice).get("/api/report/").status_code == 200
        return len(ctx.captured_queries)

    _record(client_for(expert), scored, 1e9, django_capture_on_commit_callbacks)
    one = statements()
    annulled = build_scored_question(django_capture_on_commit_callbacks, expert=expert, title="annulled",
                                     predictions={alice: NO_CHANGE, bob: CLOSE})
    _record(client_for(expert), annulled, "annulled", django_capture_on_commit_callbacks)
    pending = build_scored_question(django_capture_on_commit_callbacks, expert=expert, title="no outcome yet",
                                    predictions={carol: WRONG_WAY})
    assert _record(client_for(organizer), closed_question, 1e10, django_capture_on_commit_callbacks).status_code == 200
    assert statements() == one

    from forecasts import selectors

    reports = selectors.reports_visible(alice)
    assert len(reports) == 4
    assert reports == [selectors.question_report(type(scored).objects.get(pk=r["question"]), rows=False)
                       for r in reports]
    by_id = {r["question"]: r for r in reports}
    assert by_id[annulled.pk]["annulled"] is True and by_id[pending.pk]["outcome"] is None
    assert by_id[scored.pk]["beat_prior_share"] is not None and by_id[scored.pk]["scored"] is True
    assert by_id[closed_question.pk]["side_by_side"]["posterior"] is None
    assert by_id[pending.pk]["n_predictions"] == 1 and by_id[annulled.pk]["n_predictions"] == 2
