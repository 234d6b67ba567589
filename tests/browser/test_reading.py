"""Reading a competition (issue #12), in Chromium: every page fits a phone and passes axe-core, the finished page
draws every prediction and explains its scores, the draw re-runs from the page's own numbers, and the expert types
each weight beside the evidence it weighs. Screenshots of every page at both widths go to tests/browser/artifacts/."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from forecasts.demo import DEMO_PASSWORD
from tests.browser.helpers import log_in
from tests.browser.test_editor import fill, wait_ready
from tests.browser.test_pages import page  # noqa: F401 - the shared Chromium fixture
from tests.reference import draw

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = next(Path(__file__).resolve().parents[2].glob("static/vendor/axe-core-*/axe.min.js"))
WIDTHS = (1280, 390)


@pytest.fixture
def world(db):
    """The demo's two finished questions, plus one question in each earlier status (expert: rohin)."""
    from django.contrib.auth import get_user_model

    from forecasts import demo, services

    User = get_user_model()
    from tests.conftest import COMPUTE_QUESTION, POSTERIOR_SPEC, PRIOR_SPEC

    finished = demo.load_demo()
    rohin = User.objects.get(username="rohin")
    alice = User.objects.get(username="alice")
    bob = User.objects.get(username="bob")

    def make(title):
        return services.question_create(created_by=rohin, closes_at=timezone.now() + timedelta(days=5),
                                        **{**COMPUTE_QUESTION, "title": title})

    draft = make("A draft without a prior")
    opened = make("An open question")
    services.prior_set(question=opened, user=rohin, spec=PRIOR_SPEC)
    services.question_open(question=opened, user=rohin)
    services.evidence_post(question=opened, author=alice, body="An **argument** with a long link "
                           "https://example.org/" + "x" * 120)
    services.prediction_submit(question=opened, author=alice, spec=POSTERIOR_SPEC)
    closed = make("A closed question")
    services.prior_set(question=closed, user=rohin, spec=PRIOR_SPEC)
    services.question_open(question=closed, user=rohin)
    for author in (alice, bob):
        services.evidence_post(question=closed, author=author, body=f"{author.username}'s reading of the trend")
        services.prediction_submit(question=closed, author=author, spec=POSTERIOR_SPEC)
    services.question_close(question=closed, user=rohin)
    from forecasts.prizes import competition_create

    competition = competition_create(user=User.objects.get(username="organizer"), name="The 2020 reference runs",
                                     question_ids=[q.pk for q in finished[:2]], pool="500.00")
    return {"finished": finished, "draft": draft, "open": opened, "closed": closed, "competition": competition}


def serious_axe_violations(page) -> list:  # noqa: F811
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => (await axe.run(document)).violations.map(v =>
        ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))""")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def sticking_out(page, width: int) -> list[str]:  # noqa: F811
    return page.evaluate("""w => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.scroll-x'))
        .map(e => e.tagName + '.' + e.className + (e.dataset.testid ? '#' + e.dataset.testid : ''))
        .slice(0, 10)""", width)


def check_page(page, name: str, width: int) -> None:  # noqa: F811
    """No sideways scroll, nothing serious for axe, a screenshot kept."""
    if page.locator("[data-plot]").count():
        page.locator("[data-plot] [data-testid=plot-curve]").first.wait_for()
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert scroll <= inner, (name, width, sticking_out(page, width))
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    assert serious_axe_violations(page) == [], (name, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_the_screen_and_passes_axe(live_server, world, page, width):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    base = live_server.url
    page.set_viewport_size({"width": width, "height": 900})
    compute, agi = world["finished"][:2]
    favicon_misses = []
    page.on("response", lambda r: favicon_misses.append(r.url) if "favicon" in r.url and r.status >= 400 else None)
    visitor = [("home", "/"), ("login", "/accounts/login/"), ("signup", "/accounts/signup/"),
               ("question-open", f"/questions/{world['open'].pk}/"),
               ("question-awarded-log", f"/questions/{compute.pk}/"),
               ("question-awarded-date", f"/questions/{agi.pk}/"),
               ("profile", "/users/alice/"), ("competitions", "/competitions/"),
               ("competition", f"/competitions/{world['competition'].pk}/"),
               ("leaderboard", f"/questions/{compute.pk}/leaderboard/")]
    for name, path in visitor:
        page.goto(base + path)
        check_page(page, name, width)
    log_in(page, base, "rohin", DEMO_PASSWORD)
    expert = [("question-draft", f"/questions/{world['draft'].pk}/"),
              ("question-closed-expert", f"/questions/{world['closed'].pk}/"),
              ("notifications", "/notifications/"), ("home-signed-in", "/"), ("new-question", "/questions/new/")]
    for name, path in expert:
        page.goto(base + path)
        check_page(page, name, width)
    log_in(page, base, "alice", DEMO_PASSWORD)
    page.goto(f"{base}/questions/{agi.pk}/")
    check_page(page, "question-awarded-commenter", width)
    page.goto(f"{base}/users/alice/")
    check_page(page, "profile-own", width)
    # A commenter on an open question: the forms, and a reply box under each item.
    log_in(page, base, "bob", DEMO_PASSWORD)
    page.goto(f"{base}/questions/{world['open'].pk}/")
    page.locator("details.reply summary").first.click()
    check_page(page, "question-open-commenter", width)
    assert favicon_misses == []


def test_a_finished_question_draws_every_prediction_explains_and_rechecks_its_draw(
    live_server, world, page  # noqa: F811
):
    from forecasts.models import Prediction

    agi = world["finished"][1]
    log_in(page, live_server.url, "alice", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/questions/{agi.pk}/")
    plot = page.get_by_test_id("results-plot")
    plot.locator("[data-testid=plot-curve]").first.wait_for()
    current = Prediction.objects.filter(question=agi, is_current=True).count()
    faint = plot.locator("[data-testid=plot-curve][data-faint=true]")
    assert faint.count() == current == 3
    strong = plot.locator("[data-testid=plot-curve][data-faint=false]")
    assert [strong.nth(i).get_attribute("data-series") for i in range(strong.count())] == \
        ["prior", "yours", "aggregate", "posterior"]
    assert "(you)" in plot.get_by_test_id("plot-legend").inner_text()
    # The CDF switch redraws the same curves; hovering names a curve's author and median.
    plot.get_by_label("Cumulative (CDF)").check()
    assert plot.get_by_test_id("plot-svg").get_attribute("data-mode") == "cdf"
    box = plot.get_by_test_id("plot-hover").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    assert re.search(r"median", plot.get_by_test_id("plot-readout").inner_text())

    # The scores explain themselves, and my row says so in words.
    page.get_by_test_id("score-explanations").locator("summary").click()
    assert page.get_by_text("Skill over the prior (nats; higher is better)").is_visible()
    assert "(you)" in page.get_by_test_id("score-mine").inner_text()
    assert page.get_by_test_id("score-pool").is_visible()

    # The draw: check the commitment, then re-run it here from the page's own seed and weights.
    seed = page.get_by_test_id("draw-seed").inner_text().strip()
    commitment = page.get_by_test_id("draw-commitment").inner_text().strip()
    assert hashlib.sha256(seed.encode()).hexdigest() == commitment
    rows = page.get_by_test_id("draw-entry")
    weights = {rows.nth(i).get_attribute("data-key"): rows.nth(i).get_attribute("data-weight")
               for i in range(rows.count())}
    assert len(weights) == 3
    assert page.get_by_test_id("draw-winner").get_attribute("data-key") == draw(seed, weights)
    assert "def draw(seed, weights):" in page.get_by_test_id("draw-snippet").text_content()


def test_the_expert_types_each_weight_beside_the_evidence_and_publishes(live_server, world, page):  # noqa: F811
    from forecasts.models import Influence, Question

    closed = world["closed"]
    log_in(page, live_server.url, "rohin", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/questions/{closed.pk}/")
    posterior = page.get_by_role("form", name="posterior")
    fill(posterior, "1e7", "1e9", "1e11")
    weights = {}
    for i, item in enumerate(page.locator("[data-testid^=weigh-]").all()):
        evidence_id = int(item.get_attribute("data-testid").removeprefix("weigh-"))
        # the box sits inside that comment's own block, not in the posterior's form
        assert page.locator(f"#evidence-{evidence_id} [data-testid=weigh-{evidence_id}]").count() == 1
        assert item.locator("xpath=ancestor::form").count() == 0
        weights[evidence_id] = 1.0 + i
        item.locator("input[name^='influence-']").fill(str(weights[evidence_id]))
        item.locator("input[name^='note-']").fill(f"note {i}")
    assert len(weights) == 2
    page.on("dialog", lambda dialog: dialog.accept())
    wait_ready(posterior)  # the editor posts once its preview has answered for what is typed
    invalid = page.evaluate("""() => [...document.getElementById('posterior-form').elements]
        .filter(e => !e.checkValidity()).map(e => e.name + ': ' + e.validationMessage)""")
    assert invalid == []
    page.get_by_test_id("publish-beside").click()
    page.get_by_test_id("messages").wait_for(timeout=15_000)
    assert "Posterior published" in page.get_by_test_id("messages").inner_text()
    assert Question.objects.filter(pk=closed.pk, posterior__isnull=False).exists()
    stored = dict(Influence.objects.filter(question=closed).values_list("evidence_id", "weight"))
    assert stored == weights
