"""The finished question reads on its own (issue #12): scores explained, your row marked, the pool as a row."""

from __future__ import annotations

import re

from django.test import Client

from tests.builders import CLOSE, NO_CHANGE, WRONG_WAY, build_scored_question
from tests.reference import draw


def _web(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _scores_table(html: str) -> str:
    match = re.search(r'<table class="numbers" data-testid="scores">.*?</table>', html, re.S)
    assert match, "no scores table"
    return match.group(0)


def test_it_explains_each_score_with_its_unit(django_capture_on_commit_callbacks, expert, alice, bob):
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: CLOSE, bob: WRONG_WAY})
    html = _web().get(f"/questions/{question.pk}/").content.decode()
    table = _scores_table(html)
    for header in ("KL (nats", "Log score (nats)", "Skill over prior (nats)", "CRPS (axis)", "Wasserstein (axis)"):
        assert header in table
    assert 'data-testid="score-explanations"' in html
    for term in ("KL divergence (nats; lower is better)", "Log score (nats; higher is better)",
                 "Skill over the prior (nats; higher is better)", "CRPS (fraction of the axis; lower is better)",
                 "Wasserstein-1 (fraction of the axis; lower is better)"):
        assert term in html


def test_it_marks_my_row_in_words_and_reads_the_sign_of_skill(
    django_capture_on_commit_callbacks, expert, alice, bob, carol
):
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: CLOSE, bob: NO_CHANGE, carol: WRONG_WAY})
    table = _scores_table(_web(bob).get(f"/questions/{question.pk}/").content.decode())
    mine = re.findall(r'<tr class="you" aria-current="true" data-testid="score-mine">.*?</tr>', table, re.S)
    assert len(mine) == 1 and ">bob</a> <strong>(you)</strong>" in mine[0]
    assert "same as the prior" in mine[0]  # NO_CHANGE is the prior itself
    rows = {name: row for row in re.findall(r"<tr.*?</tr>", table, re.S)
            for name in ("alice", "carol") if f">{name}</a>" in row}
    assert "better than the prior" in rows["alice"] and "worse than the prior" in rows["carol"]
    # a visitor's table marks nobody
    assert "(you)" not in _scores_table(_web().get(f"/questions/{question.pk}/").content.decode())


def test_it_shows_the_pooled_forecast_as_a_row(django_capture_on_commit_callbacks, expert, alice, bob):
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: CLOSE, bob: WRONG_WAY})
    table = _scores_table(_web().get(f"/questions/{question.pk}/").content.decode())
    pool = re.search(r'<tr data-testid="score-pool">.*?</tr>', table, re.S)
    assert pool and "Crowd (pooled" in pool.group(0)
    kl = question.aggregate.scores["kl"]
    assert f"{kl:.4f}" in pool.group(0)


def _awarded_draw(capture, expert, organizer, alice, bob, carol):
    from forecasts.prizes import prizes_award, prizes_draft

    question = build_scored_question(capture, expert=expert, predictions={alice: CLOSE, bob: WRONG_WAY},
                                     evidence={alice: 1, bob: 2, carol: 0.5})
    with capture(execute=True):
        draft = prizes_draft(question=question, user=organizer, accuracy_pool="30.00", evidence_pool="20.00",
                             accuracy_rule="winner_takes_all", evidence_rule="draw")
        prizes_award(question=question, user=organizer, allocation_id=draft.pk)
    question.refresh_from_db()
    return question


def test_it_names_the_prize_rules_and_lets_anyone_rerun_the_draw(
    django_capture_on_commit_callbacks, expert, organizer, alice, bob, carol
):
    import hashlib
    from html import unescape

    question = _awarded_draw(django_capture_on_commit_callbacks, expert, organizer, alice, bob, carol)
    html = _web().get(f"/questions/{question.pk}/").content.decode()
    rules = re.search(r'<ul data-testid="prize-rules">.*?</ul>', html, re.S).group(0)
    assert "Accuracy pool: 30.00 USD" in rules and "winner_takes_all" in rules
    assert "Evidence pool: 20.00 USD" in rules and "drawn at random" in rules
    seed = re.search(r'data-testid="draw-seed">([0-9a-f]+)<', html).group(1)
    commitment = re.search(r'data-testid="draw-commitment">([0-9a-f]+)<', html).group(1)
    assert hashlib.sha256(seed.encode()).hexdigest() == commitment == question.draw_commitment
    weights = dict(re.findall(r'data-testid="draw-entry" data-key="(\d+)" data-weight="([^"]+)"', html))
    assert len(weights) == 3
    # The page's own snippet and call, run as printed, name the winner the page shows.
    code = unescape(re.search(r'<code data-testid="draw-snippet">(.*?)</code>', html, re.S).group(1))
    printed: list = []
    exec(code, {"print": printed.append})  # the page's published re-run, on the values it shows
    winner = re.search(r'data-testid="draw-winner" data-key="(\d+)"', html).group(1)
    assert printed == [winner] == [draw(seed, weights)]
    # each chance is the weight's share, in the page's words
    total = sum(float(w) for w in weights.values())
    for key, weight in weights.items():
        row = re.search(rf'data-key="{key}" data-weight.*?</tr>', html, re.S).group(0)
        assert f"({float(weight) / total:.4f})" in row


def test_it_puts_each_weight_beside_its_evidence_and_keeps_refused_ones_there(expert, alice, closed_question):
    from tests.pages.conftest import act
    from tests.pages.test_question_page import _evidence_before_close, prefixed

    e = _evidence_before_close(closed_question, alice)
    html = _web(expert).get(f"/questions/{closed_question.pk}/").content.decode()
    item = re.search(rf'<div class="evidence" id="evidence-{e.pk}".*?data-testid="weigh-{e.pk}">(.*?)</div>',
                     html, re.S)
    assert item, "no weight box in the evidence item"
    assert f'name="influence-{e.pk}"' in item.group(1) and f'name="note-{e.pk}"' in item.group(1)
    assert item.group(1).count('form="posterior-form"') == 2
    assert 'id="posterior-form"' in html and 'form="posterior-form"' in html.split('data-testid="publish-beside"')[0]
    # a commenter gets no weight boxes
    assert "data-testid=\"weigh-" not in _web(alice).get(f"/questions/{closed_question.pk}/").content.decode()
    # refused: the typed weight and note stay in their evidence item, with the rule beside them
    data = {**prefixed("posterior", {"p5": "1e7", "p50": "1e9", "p95": "1e11"}), f"influence-{e.pk}": "-1",
            f"note-{e.pk}": "the cost argument"}
    html = act(_web(expert), closed_question, "posterior", data).content.decode()
    item = re.search(rf'data-testid="weigh-{e.pk}">(.*?)</div>', html, re.S).group(1)
    assert 'value="-1"' in item and 'value="the cost argument"' in item and "errorlist" in item


def test_it_shows_competitions_their_leaderboard_and_award(
    django_capture_on_commit_callbacks, expert, organizer, alice, bob
):
    from forecasts.prizes import competition_award, competition_create

    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: CLOSE, bob: WRONG_WAY})
    competition = competition_create(user=organizer, name="Compute 2020", question_ids=[question.pk], pool="40.00")
    html = _web().get("/competitions/").content.decode()
    assert "Compute 2020" in html and f"/competitions/{competition.pk}/" in html
    html = _web(alice).get(f"/competitions/{competition.pk}/").content.decode()
    board = re.search(r'data-testid="competition-board">.*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr.*?</tr>", board.split("<tbody>")[1], re.S)
    assert ">alice</a> <strong>(you)</strong>" in rows[0] and ">bob</a>" in rows[1]
    assert "Payout" not in board
    competition_award(competition=competition, user=organizer)
    board = re.search(r'data-testid="competition-board">.*?</table>',
                      _web().get(f"/competitions/{competition.pk}/").content.decode(), re.S).group(0)
    assert "Payout (USD)" in board and "40.00" in board
    assert _web().get("/competitions/999999/").status_code == 404


def test_it_shows_a_question_leaderboard_and_the_export_links(
    django_capture_on_commit_callbacks, expert, alice, bob
):
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: CLOSE, bob: WRONG_WAY})
    html = _web(bob).get(f"/questions/{question.pk}/leaderboard/").content.decode()
    rows = re.findall(r"<tr.*?</tr>", html.split("<tbody>")[1], re.S)
    assert ">alice</a>" in rows[0] and ">bob</a> <strong>(you)</strong>" in rows[1]
    page_html = _web(bob).get(f"/questions/{question.pk}/").content.decode()
    assert f'href="/questions/{question.pk}/leaderboard/"' in page_html
    assert f'href="/api/questions/{question.pk}/export/metaculus/"' in page_html
    assert f'href="/api/questions/{question.pk}/report.csv"' in page_html
    assert _web(bob).get(f"/api/questions/{question.pk}/export/metaculus/").status_code == 200


def test_a_users_page_lists_only_what_the_viewer_may_see(expert, alice, bob, open_question):
    from forecasts import services
    from tests.conftest import POSTERIOR_SPEC

    services.prediction_submit(question=open_question, author=alice, spec=POSTERIOR_SPEC)
    services.evidence_post(question=open_question, author=alice, body="alice's visible argument")
    mine = _web(alice).get("/users/alice/").content.decode()
    assert open_question.title[:40] in re.search(r'data-testid="user-predictions">.*?</section>', mine, re.S).group(0)
    # the crowd is hidden until the posterior: bob sees no prediction of alice's, only her evidence
    theirs = _web(bob).get("/users/alice/").content.decode()
    assert open_question.title[:40] not in re.search(r'data-testid="user-predictions">.*?</section>', theirs,
                                                     re.S).group(0)
    assert "alice&#x27;s visible argument" in theirs
    # the blind expert may not learn who wrote what from a list by author
    assert open_question.blind
    assert "visible argument" not in _web(expert).get("/users/alice/").content.decode()


def test_the_home_page_explains_filters_counts_and_pages(
    django_capture_on_commit_callbacks, expert, alice, bob, carol, open_question
):
    from forecasts import pages, services
    from tests.conftest import POSTERIOR_SPEC

    scored = build_scored_question(django_capture_on_commit_callbacks, expert=expert, title="Finished one",
                                   predictions={alice: CLOSE, bob: WRONG_WAY}, evidence={alice: 1})
    services.evidence_post(question=open_question, author=alice, body="e1")
    services.evidence_post(question=open_question, author=bob, body="e2")
    services.prediction_submit(question=open_question, author=alice, spec=POSTERIOR_SPEC)
    html = _web().get("/").content.decode()
    assert 'data-testid="about"' in html and "amplified" in html

    def card(html, question):
        return re.search(rf'data-testid="question-{question.pk}">.*?</li>', html, re.S).group(0)

    opened = card(html, open_question)
    assert "2 evidence items" in opened and "predictions hidden until the posterior" in opened
    assert "closes in" in opened
    finished = card(html, scored)
    assert "1 evidence item<" in finished and "2 predictions" in finished
    # filters
    only_open = _web().get("/?show=open").content.decode()
    assert f'data-testid="question-{open_question.pk}"' in only_open
    assert f'data-testid="question-{scored.pk}"' not in only_open
    only_finished = _web().get("/?show=finished").content.decode()
    assert f'data-testid="question-{scored.pk}"' in only_finished
    assert f'data-testid="question-{open_question.pk}"' not in only_finished
    assert "No questions under this filter" in _web().get("/?show=closed").content.decode()
    mine = _web(bob).get("/?show=mine").content.decode()
    assert f'data-testid="question-{open_question.pk}"' in mine and f'data-testid="question-{scored.pk}"' in mine
    # carol took part in nothing: "mine" is empty for her
    assert "No questions under this filter" in _web(carol).get("/?show=mine").content.decode()
    # pages
    original = pages.QUESTIONS_PER_PAGE
    pages.QUESTIONS_PER_PAGE = 1
    try:
        first, second = (_web().get(f"/?page={n}").content.decode() for n in (1, 2))
    finally:
        pages.QUESTIONS_PER_PAGE = original
    assert "Page 1 of 2" in first and 'rel="next"' in first and "Page 2 of 2" in second
    assert card(first, scored) and f'data-testid="question-{open_question.pk}"' not in first
