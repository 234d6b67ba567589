"""The pages a person sees, driven in Debian's Chromium through Playwright against Django's live server."""

from __future__ import annotations

import os

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
# Playwright's sync API runs an event loop in this thread; Django's ORM is only ever called outside it here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def demo(db):
    from forecasts.demo import load_demo

    return load_demo()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        page = browser.new_page()
        yield page
        browser.close()


def test_a_visitor_follows_a_finished_competition(live_server, demo, page, tmp_path):
    page.goto(f"{live_server.url}/")
    assert page.get_by_role("link", name="Compute used in the largest ML training run before 2030").is_visible()
    page.get_by_role("link", name="Compute used in the largest ML training run before 2030").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("status").inner_text() == "awarded"
    # The three distributions are drawn (prior, pooled crowd, posterior), and the scores table ranks the close
    # predictor first.
    curves = page.get_by_test_id("results-plot").locator("[data-testid=plot-curve][data-faint=false]")
    curves.first.wait_for()
    assert [curves.nth(i).get_attribute("data-series") for i in range(curves.count())] == \
        ["prior", "aggregate", "posterior"]
    # and every prediction beneath them, faintly (the demo's compute question has three)
    assert page.get_by_test_id("results-plot").locator("[data-testid=plot-curve][data-faint=true]").count() == 3
    first_row = page.get_by_test_id("scores").locator("tbody tr:not([data-testid=score-pool])").first
    assert "alice" in first_row.inner_text()
    assert page.get_by_test_id("payouts").locator("tbody tr").count() >= 1
    page.screenshot(path=str(tmp_path / "question.png"), full_page=True)


def test_the_api_docs_load_without_a_cdn(live_server, page):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live_server.url}/api/schema/ui/")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)
    assert all(url.startswith(live_server.url) or url.startswith("data:") for url in requests), requests


def test_an_organizer_logs_in_and_reaches_the_admin(live_server, demo, page):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "organizer")
    page.fill("#id_password", "amplify-demo-2020")
    page.click("input[type=submit]")
    page.wait_for_load_state()
    assert "Site administration" in page.content()
