"""The server-rendered pages, through Django's test client: what a person types survives an error, errors speak the
page's words, and the page says what it stores (fit warnings, influence, who changed whose mind)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from forecasts import pages, services
from forecasts.errors import Invalid
from forecasts.models import Question
from tests.conftest import POSTERIOR_SPEC
from tests.pages.conftest import act, page

pytestmark = pytest.mark.django_db


def messages_of(html: str) -> str:
    match = re.search(r'data-testid="messages">(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


def errors_of(html: str, field_id: str) -> str:
    match = re.search(rf'<ul class="errorlist" id="{re.escape(field_id)}_error">(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


DECREASING = {"p5": "1e11", "p50": "1e9", "p95": "1e7"}


def prefixed(prefix: str, values: dict) -> dict:
    return {f"{prefix}-{k}": v for k, v in values.items()}


# 1. A refused form comes back with what was typed, the error next to its field, and a 400.


def test_a_refused_prior_keeps_what_was_typed(web, expert, draft_question):
    response = act(web(expert), draft_question, "prior", prefixed("prior", {**DECREASING, "mass_above": "0.1"}))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="1e11"' in html and 'value="1e7"' in html and 'value="0.1"' in html
    assert "increasing" in errors_of(html, "id_prior-p50")


def test_a_refused_prediction_keeps_what_was_typed(web, alice, open_question):
    response = act(web(alice), open_question, "prediction", prefixed("prediction", DECREASING))
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'<input[^>]*name="prediction-p5"[^>]*value="1e11"', html)
    assert "increasing" in errors_of(html, "id_prediction-p50")


def test_a_refused_evidence_keeps_the_text(web, alice, open_question):
    response = act(web(alice), open_question, "evidence", {"evidence-body": "My long argument",
                                                           "evidence-sources": "not a link at all"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "My long argument" in html and "not a link at all" in html
    assert errors_of(html, "id_evidence-sources")


def test_a_refused_posterior_keeps_the_weights(web, expert, alice, closed_question):
    question = closed_question
    e = _evidence_before_close(question, alice)
    data = {**prefixed("posterior", DECREASING), f"influence-{e.pk}": "2.5", f"note-{e.pk}": "the cost argument"}
    response = act(web(expert), question, "posterior", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="2.5"' in html and 'value="the cost argument"' in html
    assert "increasing" in errors_of(html, "id_posterior-p50")
    question.refresh_from_db()
    assert question.status == "closed"


def test_success_still_redirects(web, expert, draft_question):
    response = act(web(expert), draft_question, "prior", prefixed("prior", {"p5": "1e9", "p50": "1e13", "p95": "1e17"}))
    assert response.status_code == 302


def _evidence_before_close(question, author):
    """Evidence on a closed question, written as it would have been while open."""
    from forecasts.models import Evidence

    return Evidence.objects.create(question=question, author=author, body="Budgets cannot grow that fast.")


# 2. Errors name what the person sees, not the API's paths.


def test_errors_use_the_field_labels(web, alice, open_question):
    response = act(web(alice), open_question, "prediction",
                   prefixed("prediction", {"p5": "1e7", "p50": "1e9", "p95": "1e8", "mass_below": "2"}))
    text = messages_of(response.content.decode())
    assert "spec" not in text and "points[" not in text and "mass_below" not in text
    assert "Probability (below 100):" in text
    response = act(web(alice), open_question, "prediction", prefixed("prediction", {"p5": "1e7", "p50": "1e9",
                                                                                     "p95": "1e8"}))
    text = messages_of(response.content.decode())
    assert "95th percentile: must be greater than the previous point" in text
    assert "points[" not in text


def test_influence_errors_name_the_evidence(web, expert, alice, closed_question):
    e = _evidence_before_close(closed_question, alice)
    response = act(web(expert), closed_question, "posterior",
                   {**prefixed("posterior", {"p5": "1e7", "p50": "1e9", "p95": "1e11"}), f"influence-{e.pk}": "-1"})
    assert response.status_code == 400
    text = messages_of(response.content.decode())
    assert f"Weight for #{e.pk}" in text and "influence[" not in text


def test_a_service_influence_error_lands_on_that_evidence_weight(closed_question, alice):
    from forecasts.forms import InfluenceForm

    e = _evidence_before_close(closed_question, alice)
    form = pages.DistributionForm({}, question=closed_question, prefix="posterior")
    form.is_valid()
    influence = InfluenceForm({}, evidence=[e], expert_id=closed_question.expert_id, note_max_length=10)
    influence.is_valid()
    pages._add_service_errors(Invalid.field("influence[0].weight", "must be a finite number >= 0"), form,
                              influence_form=influence, influence_ids=[e.pk])
    assert influence.errors[f"influence-{e.pk}"] == ["must be a finite number >= 0"]
    assert f"Weight for #{e.pk}" in pages._error_summary(form, influence)


def test_open_is_offered_only_once_a_prior_exists(web, expert, draft_question):
    html = page(web(expert), draft_question)
    assert "Open the question" not in html and "Save a prior below" in html
    services.prior_set(question=draft_question, user=expert, spec={"type": "lognormal", "median": 1e9, "sigma": 2})
    assert "Open the question" in page(web(expert), draft_question)


def test_opening_without_a_prior_says_it_in_page_words(web, expert, draft_question):
    client = web(expert)
    response = act(client, draft_question, "open", {})
    text = messages_of(client.get(response.url).content.decode())
    assert "set a prior" in text and "/api/" not in text


# 3. A poor fit is said, on the page and in the flash; the table and the form say which percentiles they are.

POOR = {"p5": "1e9", "p50": "1e10", "p95": "1e17"}


def test_a_poor_fit_is_shown_after_saving_and_on_the_page(web, expert, draft_question):
    client = web(expert)
    response = act(client, draft_question, "prior", prefixed("prior", POOR))
    assert response.status_code == 302
    html = client.get(response.url).content.decode()
    assert "fits these quantiles poorly" in messages_of(html)
    assert 'data-testid="prior-fit"' in html
    assert "fitted lognormal puts" in html


def test_a_poor_fit_of_my_prediction_is_shown(web, alice, open_question):
    client = web(alice)
    act(client, open_question, "prediction", prefixed("prediction", POOR))
    assert 'data-testid="my-prediction-fit"' in page(client, open_question)


def test_table_and_form_say_which_percentiles(web, expert, open_question):
    # One meaning everywhere (DESIGN.md): a percentile is of the whole distribution, the tails included.
    html = page(web(expert), open_question)
    assert "percentiles of the whole distribution" in html
    for p in ("0.05", "0.5", "0.95"):
        assert f"P(X ≤ x) = {p}, tails included" in html
    assert "of the part within the range" not in html


# 4. A finished question shows the weights the expert gave, and prizes link to their evidence.


def test_influence_weights_and_notes_show_once_published(web, expert, alice, bob, open_question):
    e1 = services.evidence_post(question=open_question, author=alice, body="one")
    e2 = services.evidence_post(question=open_question, author=bob, body="two")
    services.question_close(question=open_question, user=expert)
    assert "Moved the expert" not in page(web(), open_question)
    services.posterior_publish(question=open_question, user=expert, spec=POSTERIOR_SPEC,
                               influence=[{"evidence": e1.pk, "weight": 3.0, "note": "changed my cost model"}])
    html = page(web(), open_question)
    block = html[html.index(f'id="evidence-{e1.pk}"'):]
    assert "weight 3" in block[:2000] and "changed my cost model" in block[:2000]
    assert "no weight" in html[html.index(f'id="evidence-{e2.pk}"'):]


def test_evidence_payouts_link_to_their_evidence(web, django_capture_on_commit_callbacks, expert, alice, bob,
                                                 organizer):
    from forecasts.prizes import prizes_award, prizes_draft
    from tests.builders import CLOSE, NO_CHANGE, PRIZES, build_scored_question

    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: CLOSE, bob: NO_CHANGE}, evidence={alice: 3.0, bob: 1.0})
    draft = prizes_draft(question=question, user=organizer, **PRIZES)
    prizes_award(question=question, user=organizer, allocation_id=draft.pk)
    html = page(web(), question)
    links = re.findall(r'href="#evidence-([0-9]+)"', html)
    assert links and all(f'id="evidence-{pk}"' in html for pk in links)


# 5. Sign-up on the web, with the API's rules.


def test_sign_up_logs_the_new_user_in(web):
    client = web()
    assert client.get("/accounts/signup/").status_code == 200
    response = client.post("/accounts/signup/", {"username": "newbie", "password": "long-enough-pw",
                                                 "password_again": "long-enough-pw"})
    assert response.status_code == 302
    assert "newbie" in client.get("/").content.decode()


def test_sign_up_refuses_as_the_api_does(web, alice):
    response = web().post("/accounts/signup/", {"username": "alice", "password": "long-enough-pw",
                                                "password_again": "long-enough-pw"})
    assert response.status_code == 400 and "is already taken" in response.content.decode()
    response = web().post("/accounts/signup/", {"username": "x1", "password": "short", "password_again": "short"})
    assert response.status_code == 400 and "too short" in response.content.decode()
    response = web().post("/accounts/signup/", {"username": "a b", "password": "long-enough-pw",
                                                "password_again": "long-enough-pw"})
    assert "may contain only letters, digits and @/./+/-/_" in response.content.decode()


def test_login_page_and_header_link_to_sign_up(web):
    assert 'href="/accounts/signup/' in web().get("/accounts/login/").content.decode()
    assert 'href="/accounts/signup/' in web().get("/").content.decode()


# 6. The irreversible buttons ask first and cannot be double-posted.


def test_close_and_publish_ask_for_confirmation(web, expert, alice, open_question):
    html = page(web(expert), open_question)
    button = html.index(">Close the question now</button>")
    close_form = html[html.rindex("<form", 0, button):button]
    assert "confirm(" in close_form and "disabled = true" in close_form
    services.question_close(question=open_question, user=expert)
    html = page(web(expert), open_question)
    posterior_form = html[html.index('aria-label="posterior"') - 200:html.index('aria-label="posterior"') + 600]
    assert "confirm(" in posterior_form and "disabled = true" in posterior_form


# 7. A closed question says when it closed.


def test_a_closed_question_says_closed(web, closed_question):
    html = page(web(), closed_question)
    meta = re.search(r'data-testid="question-meta">(.*?)</p>', html, re.S).group(1)
    assert "closed " + closed_question.closed_at.strftime("%Y-%m-%d %H:%M") in meta and "closes" not in meta


# 8. Long words wrap.


def test_evidence_and_descriptions_wrap_long_words(web, alice, open_question):
    services.evidence_post(question=open_question, author=alice, body="x" * 500)
    html = page(web(), open_question)
    assert "overflow-wrap: anywhere" in html
    assert re.search(r'<p class="wrap">In petaflop', html)


# 9. Accessibility.


def test_messages_are_announced_and_errors_are_tied_to_fields(web, alice, open_question):
    html = act(web(alice), open_question, "prediction", prefixed("prediction", DECREASING)).content.decode()
    assert re.search(r'role="alert"[^>]*>\s*<ul class="messages"', html)
    field = re.search(r'<input[^>]*name="prediction-p50"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in field and "id_prediction-p50_error" in field


def test_endorse_buttons_name_the_evidence_and_say_once_endorsed(web, alice, bob, open_question):
    e = services.evidence_post(question=open_question, author=bob, body="an argument")
    client = web(alice)
    html = page(client, open_question)
    assert f'aria-label="This changed my mind: evidence #{e.pk}"' in html
    act(client, open_question, "endorse", {"evidence": str(e.pk)})
    html = page(client, open_question)
    assert "You said this changed your mind" in html and "This changed my mind</button>" not in html


# 10. Date questions use the table's words in the form too.


def test_date_question_forms_use_the_tail_labels(web, expert):
    question = services.question_create(
        created_by=expert, title="When?", scale="date", lower="2020-01-01", upper="2100-12-31", open_lower=True,
        open_upper=True, closes_at=timezone.now() + timedelta(days=3))
    html = page(web(expert), question)
    assert "Probability (already)" in html and "Probability (after 2100-12-31 or never)" in html
    assert "below the range" not in html and "lognormal in years after 2020-01-01" in html


# 11. closes_at is UTC, and says so.


def test_closes_at_is_labelled_and_read_as_utc(web, expert, settings):
    settings.TIME_ZONE = "America/New_York"
    client = web(expert)
    html = client.get("/questions/new/").content.decode()
    assert "Closes at (UTC)" in html
    # Shown as its help says (a datetime-local picker would show the reader's locale instead); both forms are read.
    assert re.search(r'name="closes_at" value="\d{4}-\d\d-\d\d \d\d:\d\d"', html)
    assert 'type="datetime-local"' not in html
    response = client.post("/questions/new/", {"title": "T", "scale": "linear", "lower": "0", "upper": "1",
                                               "closes_at": "2099-01-01 00:00"})
    assert response.status_code == 302
    assert Question.objects.get(title="T").closes_at == datetime(2099, 1, 1, tzinfo=UTC)


# 12. Organizers draft prizes and award one on the page.


@pytest.fixture
def scored(django_capture_on_commit_callbacks, expert, alice, bob):
    from tests.builders import CLOSE, NO_CHANGE, build_scored_question

    return build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                 predictions={alice: CLOSE, bob: NO_CHANGE}, evidence={alice: 3.0, bob: 1.0})


PRIZE_FORM = {"prizes-accuracy_pool": "50.00", "prizes-evidence_pool": "50.00",
              "prizes-accuracy_rule": "winner_takes_all", "prizes-evidence_rule": "proportional",
              "prizes-power": "1", "prizes-min_payout": "0", "prizes-currency": ""}


def test_an_organizer_drafts_and_awards_prizes_on_the_page(web, organizer, scored):
    client = web(organizer)
    assert 'aria-label="prizes"' in page(client, scored)
    response = act(client, scored, "prizes", PRIZE_FORM)
    assert response.status_code == 302
    draft = scored.allocations.get()
    html = page(client, scored)
    at = html.index(f'aria-label="Award draft #{draft.pk}"')
    award = html[at - 600:at]
    assert "confirm(" in award and "disabled = true" in award
    response = act(client, scored, "award", {"allocation": str(draft.pk)})
    scored.refresh_from_db()
    assert scored.status == "awarded"
    assert 'data-testid="payouts"' in page(client, scored)


def test_a_refused_prize_draft_keeps_what_was_typed(web, organizer, scored):
    response = act(web(organizer), scored, "prizes", {**PRIZE_FORM, "prizes-accuracy_pool": "12.345"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="12.345"' in html and "whole number of cents" in errors_of(html, "id_prizes-accuracy_pool")
    assert "Accuracy pool: must have at most 2 decimal places" in messages_of(html)


def test_prize_forms_are_for_organizers_only(web, expert, scored):
    assert 'aria-label="prizes"' not in page(web(expert), scored)
    assert act(web(expert), scored, "prizes", PRIZE_FORM).status_code == 403


def test_it_shows_no_empty_table_header_for_a_draft_without_a_prior(web, expert, draft_question):
    html = page(web(expert), draft_question)
    assert 'data-testid="distributions"' not in html and "<th>p5</th>" not in html
    assert 'data-testid="no-distributions"' in html


def test_it_shows_the_prior_fit_warnings_to_the_expert_only(web, expert, alice, draft_question):
    act(web(expert), draft_question, "prior", prefixed("prior", POOR))
    act(web(expert), draft_question, "open", {})
    assert 'data-testid="prior-fit"' in page(web(expert), draft_question)
    assert 'data-testid="prior-fit"' not in page(web(alice), draft_question)


def test_it_serves_a_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert 'rel="icon"' in client.get("/accounts/login/").content.decode()
