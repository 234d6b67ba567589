"""A whole competition through the web pages, as people would click through it, in Debian's Chromium."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model

from tests.browser.helpers import PASSWORD, log_in
from tests.browser.test_pages import page  # noqa: F401 - the shared Chromium fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def people(db):
    User = get_user_model()
    return {name: User.objects.create_user(username=name, password=PASSWORD) for name in ("expert", "reader")}


def _fill_distribution(form, p5: str, p50: str, p95: str) -> None:
    form.locator("input[name$='-p5']").fill(p5)
    form.locator("input[name$='-p50']").fill(p50)
    form.locator("input[name$='-p95']").fill(p95)


def test_an_expert_and_a_reader_run_a_competition_in_the_browser(live_server, people, page):  # noqa: F811
    base = live_server.url
    log_in(page, base, "expert")
    page.goto(f"{base}/questions/new/")
    form = page.get_by_role("form", name="new question")
    form.locator("#id_title").fill("Largest training run before 2030")
    form.locator("#id_scale").select_option("log")
    form.locator("#id_lower").fill("100")
    form.locator("#id_upper").fill("1e18")
    form.locator("#id_open_upper").check()
    form.locator("#id_closes_at").fill("2099-01-01T00:00")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("status").inner_text() == "draft"
    question_url = page.url

    _fill_distribution(page.get_by_role("form", name="prior"), "1e9", "1e13", "1e17")
    page.get_by_role("form", name="prior").locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "Prior saved" in page.get_by_test_id("messages").inner_text()
    page.get_by_role("button", name="Open the question").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("status").inner_text() == "open"

    log_in(page, base, "reader")
    page.goto(question_url)
    evidence = page.get_by_role("form", name="evidence")
    evidence.locator("textarea[name='evidence-body']").fill("Budgets cannot grow that fast.")
    evidence.locator("button[type=submit]").click()
    page.wait_for_load_state()
    _fill_distribution(page.get_by_role("form", name="prediction"), "1e7", "1e9", "1e11")
    page.get_by_role("form", name="prediction").locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "median 1e+09" in page.get_by_test_id("my-prediction").inner_text()

    # A bad distribution is refused before it is sent, with the rule beside the field, and cannot be submitted; the
    # old prediction stays.
    form = page.get_by_role("form", name="prediction")
    _fill_distribution(form, "1e11", "1e9", "1e7")
    form.get_by_test_id("field-error").filter(has_text="increasing").first.wait_for(timeout=10_000)
    assert form.locator("button[type=submit]").is_disabled()
    page.reload()
    assert "median 1e+09" in page.get_by_test_id("my-prediction").inner_text()

    log_in(page, base, "expert")
    page.goto(question_url)
    # Closing and publishing ask first (a confirm dialog); the person says yes.
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Close the question now").click()
    page.wait_for_load_state()
    posterior = page.get_by_role("form", name="posterior")
    _fill_distribution(posterior, "1e7", "1e9", "1e11")
    # each weight is typed in its evidence item, outside the <form>, and posted with it (form= attribute)
    page.get_by_role("region", name="evidence").locator("input[name^='influence-']").first.fill("2")
    posterior.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("status").inner_text() == "scored"
    assert len(dialogs) == 2 and "cannot be changed" in dialogs[1]
    first = page.get_by_test_id("scores").locator("tbody tr:not([data-testid=score-pool])").first.inner_text()
    assert "reader" in first


def test_a_reader_marks_evidence_that_changed_their_mind(live_server, people, page):  # noqa: F811
    from datetime import timedelta

    from django.utils import timezone

    from forecasts import services
    from tests.conftest import COMPUTE_QUESTION, PRIOR_SPEC

    expert = people["expert"]
    question = services.question_create(created_by=expert, closes_at=timezone.now() + timedelta(days=2),
                                        **COMPUTE_QUESTION)
    services.prior_set(question=question, user=expert, spec=PRIOR_SPEC)
    services.question_open(question=question, user=expert)
    services.evidence_post(question=question, author=expert, body="A cost argument.")

    log_in(page, live_server.url, "reader")
    page.goto(f"{live_server.url}/questions/{question.pk}/")
    page.get_by_role("button", name="This changed my mind").click()
    page.wait_for_load_state()
    assert "changed your mind" in page.get_by_test_id("messages").inner_text()
    assert "changed 1 mind" in page.content()
