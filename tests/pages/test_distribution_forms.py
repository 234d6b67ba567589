"""The distribution forms and plots of the question page, through Django's test client: percentiles are total
probability, the editor's spec (`spec_json`) goes through the same validation, fields start from what was saved, and
every plot is drawn by one script from JSON the page embeds (no SVG built on the server)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from forecasts import services
from forecasts.models import Prediction, Prior
from tests.conftest import POSTERIOR_SPEC, PRIOR_SPEC
from tests.pages.conftest import act
from tests.pages.conftest import page as html_of

pytestmark = pytest.mark.django_db


def embedded(html: str, element_id: str):
    match = re.search(rf'<script id="{re.escape(element_id)}" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1)) if match else None


def input_value(html: str, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', html)
    value = re.search(r'value="([^"]*)"', tag.group(0)) if tag else None
    return value.group(1) if value else None


@pytest.fixture
def date_question(expert):
    return services.question_create(
        created_by=expert, title="When?", scale="date", lower="2020-01-01", upper="2100-12-31", open_lower=True,
        open_upper=True, closes_at=timezone.now() + timedelta(days=3))


# 1. The quick fields: p is the total probability, and a percentile beyond the range is left empty.


def test_the_quick_fields_are_total_probabilities(web, expert, draft_question):
    response = act(web(expert), draft_question, "prior",
                   {"prior-p5": "1e9", "prior-p50": "1e12", "prior-p95": "1e15", "prior-mass_above": "0.02"})
    assert response.status_code == 302
    spec = Prior.objects.get(question=draft_question).spec
    assert spec == {"type": "quantiles", "mass_above": 0.02,
                    "points": [{"p": 0.05, "x": 1e9}, {"p": 0.5, "x": 1e12}, {"p": 0.95, "x": 1e15}]}


def test_a_percentile_beyond_the_range_is_left_empty(web, expert, date_question):
    # 35% on "never": the 95th percentile lies beyond 2100, so the expert gives the other two.
    response = act(web(expert), date_question, "prior", {"prior-p5": "2025-01-01", "prior-p50": "2060-01-01",
                                                         "prior-mass_below": "0.001", "prior-mass_above": "0.35"})
    assert response.status_code == 302
    prior = Prior.objects.get(question=date_question)
    assert [pt["p"] for pt in prior.spec["points"]] == [0.05, 0.5]
    assert prior.mass_above == pytest.approx(0.35)


def test_one_percentile_is_not_enough(web, expert, draft_question):
    response = act(web(expert), draft_question, "prior", {"prior-p50": "1e12"})
    assert response.status_code == 400
    assert "at least two" in response.content.decode()
    assert not Prior.objects.exists()


def test_an_error_lands_on_the_field_that_made_the_point(web, expert, draft_question):
    # p5 is empty, so the engine's points[0] is the median field, and points[1] the 95th percentile's.
    response = act(web(expert), draft_question, "prior", {"prior-p50": "1e12", "prior-p95": "1e11"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "increasing" in re.search(r'id="id_prior-p95_error">(.*?)</ul>', html, re.S).group(1)
    assert 'id="id_prior-p5_error"' not in html


def test_a_p_refused_for_a_tail_mass_lands_on_that_mass(web, expert, draft_question):
    # The median's P(X <= x) = 0.5 cannot lie above the range when 0.6 is beyond it.
    response = act(web(expert), draft_question, "prior",
                   {"prior-p5": "1e9", "prior-p50": "1e12", "prior-mass_above": "0.6"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "mass_above" in re.search(r'id="id_prior-mass_above_error">(.*?)</ul>', html, re.S).group(1)


# 2. The editor's spec: the same validation, the errors by field, nothing half-stored.


HISTOGRAM = {"type": "histogram", "mass_above": 0.1,
             "bins": [{"lo": 1e6, "hi": 1e9, "p": 0.3}, {"lo": 1e9, "hi": 1e12, "p": 0.6}]}


def test_the_editors_spec_is_what_is_saved(web, alice, open_question):
    # The quick fields hold stale text the editor does not use: it is not read.
    response = act(web(alice), open_question, "prediction", {
        "prediction-spec_json": json.dumps(HISTOGRAM), "prediction-p5": "stale", "prediction-mass_below": "x"})
    assert response.status_code == 302
    prediction = Prediction.objects.get(author=alice)
    assert prediction.spec == HISTOGRAM
    assert prediction.mass_above == pytest.approx(0.1)


def test_the_editors_spec_is_saved_as_the_api_stores_it(web, client_for, expert, draft_question):
    spec = {"type": "lognormal", "median": 1e11, "sigma": 3.0, "mass_below": 0.01}
    act(web(expert), draft_question, "prior", {"prior-spec_json": json.dumps(spec)})
    from_page = client_for(expert).get(f"/api/questions/{draft_question.pk}/prior/").json()
    preview = client_for(expert).post(f"/api/questions/{draft_question.pk}/preview/", {"spec": spec},
                                      format="json").json()
    from_page.pop("updated_at")  # when the prior was stored; a preview is never stored
    assert from_page == preview


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"', "[" * 5000 + "]" * 5000, '{"a": "\\ud800"}'])
def test_a_malformed_editor_spec_is_refused_on_the_form(web, alice, open_question, raw):
    response = act(web(alice), open_question, "prediction", {"prediction-spec_json": raw})
    assert response.status_code == 400
    assert "not a JSON object" in response.content.decode()
    assert not Prediction.objects.exists()


def test_a_bad_editor_spec_gets_the_engines_message(web, alice, open_question):
    spec = {"type": "quantiles", "points": [{"p": 0.1, "x": 1e9}, {"p": 0.6, "x": 1e8}]}
    response = act(web(alice), open_question, "prediction", {"prediction-spec_json": json.dumps(spec)})
    assert response.status_code == 400
    html = response.content.decode()
    assert "must be greater than the previous point" in html
    # What was sent comes back, so the editor starts again from it.
    assert json.loads(unescape(input_value(html, "prediction-spec_json"))) == spec
    assert not Prediction.objects.exists()


# 3. Fields keep what was saved; the posterior starts from the prior.


def test_the_prediction_form_starts_from_the_current_prediction(web, alice, open_question):
    client = web(alice)
    act(client, open_question, "prediction",
        {"prediction-p5": "1e7", "prediction-p50": "1e9", "prediction-p95": "1e11"})
    html = html_of(client, open_question)
    assert [input_value(html, f"prediction-{n}") for n in ("p5", "p50", "p95")] == ["1e7", "1e9", "1e11"]
    editor = embedded(html, "prediction-editor-data")
    assert editor["start"]["points"][1] == {"p": 0.5, "x": 1e9}


def test_the_posterior_form_starts_from_the_prior(web, expert, closed_question):
    html = html_of(web(expert), closed_question)
    # The compute prior was typed as three percentiles: they are the posterior's starting fields.
    assert [input_value(html, f"posterior-{n}") for n in ("p5", "p50", "p95")] == ["1e9", "1e13", "1e17"]
    editor = embedded(html, "posterior-editor-data")
    assert editor["start"] == PRIOR_SPEC
    assert [s["key"] for s in editor["overlays"]] == ["prior"]


def test_a_form_starts_from_the_summary_when_the_spec_was_not_quick(web, expert, draft_question):
    services.prior_set(question=draft_question, user=expert, spec=POSTERIOR_SPEC)  # a lognormal, median 1e9
    html = html_of(web(expert), draft_question)
    summary = Prior.objects.get(question=draft_question).summary
    assert float(input_value(html, "prior-p50")) == pytest.approx(summary["median"], rel=1e-5)
    assert float(input_value(html, "prior-p5")) == pytest.approx(summary["p5"], rel=1e-5)


def test_a_commenter_draws_over_the_prior_and_their_own_prediction(web, alice, open_question):
    client = web(alice)
    editor = embedded(html_of(client, open_question), "prediction-editor-data")
    assert [s["key"] for s in editor["overlays"]] == ["prior"]
    assert editor["preview_url"] == f"/api/questions/{open_question.pk}/preview/"
    services.prediction_submit(question=open_question, author=alice, spec=POSTERIOR_SPEC)
    editor = embedded(html_of(client, open_question), "prediction-editor-data")
    assert [s["key"] for s in editor["overlays"]] == ["prior", "yours"]
    assert all(len(s["cdf"]) == 201 for s in editor["overlays"])


# 4. One plotting path: the page embeds the distributions as JSON for static/js/plot.js.


def test_the_page_embeds_its_distributions_for_the_plot(web, alice, open_question):
    services.prediction_submit(question=open_question, author=alice, spec=POSTERIOR_SPEC)
    html = html_of(web(alice), open_question)
    data = embedded(html, "results-plot-data")
    assert [s["key"] for s in data["series"]] == ["prior", "yours"]
    prior = Prior.objects.get(question=open_question)
    first = data["series"][0]
    assert first["cdf"] == prior.cdf.tolist() and first["summary"] == prior.summary
    assert first["mass_above"] == pytest.approx(prior.mass_above) and first.get("primary") is True
    assert data["axis"] == {"scale": "log", "lower": 100.0, "upper": 1e18, "open_lower": True, "open_upper": True,
                            "unit": open_question.unit, "tail_below": "below 100", "tail_above": "above 1e+18"}
    # No plot is built on the server (its container is empty; the only SVG is the bell icon); the table gives the
    # same numbers without JavaScript.
    assert '<div class="plot" data-plot="results-plot-data" data-testid="results-plot"></div>' in html
    assert html.count("<svg") == html.count('<svg class="icon"') and "<polyline" not in html
    assert 'data-testid="prior-row"' in html


def test_the_others_predictions_stay_off_the_plot_until_published(web, alice, bob, open_question):
    services.prediction_submit(question=open_question, author=bob, spec=POSTERIOR_SPEC)
    data = embedded(html_of(web(alice), open_question), "results-plot-data")
    assert [s["key"] for s in data["series"]] == ["prior"]


def test_a_date_question_plot_says_already_and_never(web, expert, date_question):
    services.prior_set(question=date_question, user=expert, spec={
        "type": "quantiles", "mass_below": 0.001, "mass_above": 0.35,
        "points": [{"p": 0.2, "x": "2030-01-01"}, {"p": 0.5, "x": "2045-01-01"}]})
    data = embedded(html_of(web(expert), date_question), "results-plot-data")
    axis = data["axis"]
    assert (axis["tail_below"], axis["tail_above"]) == ("already", "after 2100-12-31 or never")
    # Bounds in days since 1970-01-01: 2020-01-01 is day 18262.
    assert axis["lower"] == 18262.0 and axis["scale"] == "date"


def test_nothing_to_plot_embeds_nothing(web, expert, draft_question):
    html = html_of(web(expert), draft_question)
    assert embedded(html, "results-plot-data") is None


def test_the_scripts_are_served_from_this_server(web, expert, draft_question):
    html = html_of(web(expert), draft_question)
    sources = re.findall(r'<script src="([^"]+)"', html)
    assert sources and all(src.startswith(settings.STATIC_URL if settings.STATIC_URL.startswith("/")
                                          else "/" + settings.STATIC_URL) for src in sources)
    static_dir = Path(settings.STATICFILES_DIRS[0])
    for src in sources:
        assert (static_dir / src.split("/static/", 1)[1]).is_file(), src
    vendored = [src for src in sources if "/vendor/" in src]
    assert vendored and all((static_dir / src.split("/static/", 1)[1]).with_name("LICENSE").is_file()
                            for src in vendored)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_it_shows_a_saved_number_so_that_it_reads_back_exactly(x):
    from forecasts.forms import show_number

    text = show_number(x, None)
    assert float(text) == x and "+" not in text


def test_it_shows_numbers_as_people_type_them():
    from forecasts.forms import show_number

    assert [show_number(x, None) for x in (1e13, 1e9, 0.05, 123456789012.0)] == ["1e13", "1e9", "0.05", "123456789012"]
    assert show_number(999000000.000001) == "9.99e8"  # summaries: 6 figures
