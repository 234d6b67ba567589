"""The finished question reads on its own (issue #12): scores explained, your row marked, the pool as a row."""

from __future__ import annotations

import re

from django.test import Client

from tests.builders import CLOSE, NO_CHANGE, WRONG_WAY, build_scored_question


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
