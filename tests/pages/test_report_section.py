"""The question page's amplification report and its outcome form (docs/design.md, Outcomes)."""

from __future__ import annotations

from django.test import Client

from tests.builders import CLOSE, NO_CHANGE, WRONG_WAY, build_scored_question


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_shows_the_report_and_records_the_outcome_from_the_page(
    django_capture_on_commit_callbacks, expert, alice, bob, carol
):
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: CLOSE, bob: NO_CHANGE, carol: WRONG_WAY})
    html = _web(expert).get(f"/questions/{question.pk}/").content.decode()
    assert 'data-testid="report-moved"' in html and 'aria-label="outcome"' in html
    # a commenter sees the report but gets no form
    assert 'aria-label="outcome"' not in _web(alice).get(f"/questions/{question.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = _web(expert).post(f"/questions/{question.pk}/outcome/", {"value": "1e9"})
    assert response.status_code == 302
    html = _web(alice).get(f"/questions/{question.pk}/").content.decode()
    assert 'data-testid="report-side-by-side"' in html and 'data-testid="report-beat-prior"' in html
    assert 'aria-label="outcome"' not in _web(expert).get(f"/questions/{question.pk}/").content.decode()


def test_it_says_why_the_page_refused_an_outcome(django_capture_on_commit_callbacks, expert, alice):
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert, predictions={alice: CLOSE})
    response = _web(expert).post(f"/questions/{question.pk}/outcome/", {"value": "2030-01-01"}, follow=True)
    assert "value:" in response.content.decode()
    assert not hasattr(type(question).objects.get(pk=question.pk), "outcome")
