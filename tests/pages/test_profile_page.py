"""The profile page (a user's track record and calibration bars) and the question page's pools table."""

from __future__ import annotations

from django.test import Client

from amplification.pooling import POOL_METHODS
from tests.builders import CLOSE, NO_CHANGE, build_scored_question


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_shows_the_record_and_the_calibration_bars(django_capture_on_commit_callbacks, expert, alice, bob):
    build_scored_question(django_capture_on_commit_callbacks, expert=expert, predictions={alice: CLOSE, bob: NO_CHANGE})
    html = _web(bob).get("/users/alice/").content.decode()
    assert 'data-testid="questions-scored">1<' in html
    assert 'data-testid="calibration-posterior"' in html and 'data-testid="calibration-outcome"' in html
    # twenty bars (ten bins, two histograms); the one bin holding alice's one prediction fills its bar
    assert html.count("<rect ") == 20 and html.count('<rect x="0" y="1" width="200"') == 1
    assert Client().get("/users/nobody-here/").status_code == 404


def test_it_shows_the_pools_side_by_side_and_links_the_scorers(django_capture_on_commit_callbacks, expert, alice,
                                                               bob, open_question):
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: CLOSE, bob: NO_CHANGE})
    html = _web(bob).get(f"/questions/{question.pk}/").content.decode()
    assert all(f'data-testid="pool-{method}"' in html for method in POOL_METHODS)
    assert 'href="/users/alice/"' in html
    # while the crowd is hidden there is no pools table
    assert 'data-testid="pools"' not in _web(bob).get(f"/questions/{open_question.pk}/").content.decode()
