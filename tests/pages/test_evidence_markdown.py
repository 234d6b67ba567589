"""Evidence reads as Markdown, sanitised by nh3 (forecasts/markup.py): the classic XSS payloads do not survive into
the question page, links open safely, replies sit under what they answer, and the thread is paginated with a
bounded number of queries whatever its length."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from forecasts import services
from forecasts.models import Evidence

PAYLOADS = [
    "<script>alert('xss')</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "<a href=\"javascript:alert(1)\">click</a>",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<img src=x onerror=alert(1)>",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<svg onload=alert(1)>",
    "<div onmouseover=\"alert(1)\">hover</div>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "[x](https://ok.example \"t\" onclick=alert(1))",
    "<a href=https://ok.example onclick=alert(1)>x</a>",
    "<style>body{display:none}</style>",
    "<<script>script>alert(1)<</script>/script>",
]


def _elements(html: str) -> list[tuple[str, list]]:
    """Every element the browser would build from `html`: (tag, [(attribute, value)]), as the stdlib parses it."""
    from html.parser import HTMLParser

    found: list[tuple[str, list]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def _evidence_html(html: str, evidence_id: int) -> str:
    return re.search(rf'data-testid="evidence-body-{evidence_id}">(.*?)</div>', html, re.S).group(1)


def test_it_lets_no_classic_xss_payload_through(alice, open_question):
    from django.test import Client

    posted = [services.evidence_post(question=open_question, author=alice, body=f"before {p} after")
              for p in PAYLOADS]
    html = Client().get(f"/questions/{open_question.pk}/").content.decode()
    for evidence, payload in zip(posted, PAYLOADS, strict=True):
        body = _evidence_html(html, evidence.pk)
        for tag, attrs in _elements(body):
            assert tag in {"p", "a", "br", "em", "strong", "code"}, (payload, body)
            for name, value in attrs:
                assert not name.startswith("on"), (payload, body)
                if name == "href":
                    assert re.match(r"(https?:|mailto:)", value or ""), (payload, body)
        assert "before" in body and "after" in body  # the text around the payload is kept
    # and nowhere in the page: no element a payload brought, no handler attribute on any element
    tags = [(tag, dict(attrs)) for tag, attrs in _elements(html)]
    assert not any(tag in {"iframe", "svg", "img"} for tag, _ in tags)
    assert [tag for tag, _ in tags].count("style") == 1  # base.html's own
    assert not any(t == "script" and a.get("src", "").startswith("https://evil") for t, a in tags)
    assert not any(name.startswith("on") and tag != "form" for tag, attrs in tags for name in attrs)


def test_it_renders_markdown_and_opens_links_safely(alice, open_question):
    e = services.evidence_post(question=open_question, author=alice,
                               body="**Strong** point, see [the paper](https://arxiv.org/abs/1) and `code`."
                                    "\n\n- one\n- two",
                               sources=["https://example.org/source"])
    html = Client().get(f"/questions/{open_question.pk}/").content.decode()
    body = _evidence_html(html, e.pk)
    assert "<strong>Strong</strong>" in body and "<code>code</code>" in body and "<li>one</li>" in body
    assert '<a href="https://arxiv.org/abs/1" target="_blank" rel="nofollow noopener noreferrer">the paper</a>' in body
    assert ('<a href="https://example.org/source" rel="nofollow noopener noreferrer" target="_blank">'
            in html)


def test_it_shows_replies_under_the_evidence_they_answer(alice, bob, open_question):
    first = services.evidence_post(question=open_question, author=alice, body="The trend says so.")
    other = services.evidence_post(question=open_question, author=alice, body="Another point.")
    reply = services.evidence_post(question=open_question, author=bob, body="But the trend broke.",
                                   parent_id=first.pk)
    html = Client().get(f"/questions/{open_question.pk}/").content.decode()
    replies = re.search(rf'aria-label="replies to #{first.pk}".*?data-testid="evidence-{reply.pk}"', html, re.S)
    assert replies, "the reply is not under its parent"
    assert html.index(f'data-testid="evidence-{reply.pk}"') < html.index(f'data-testid="evidence-{other.pk}"')
    assert f"(a reply to <a href=\"#evidence-{first.pk}\">#{first.pk}</a>)" in html


@pytest.mark.parametrize("count", [10, 1000])
def test_a_thousand_items_are_paginated_in_a_bounded_number_of_queries(
    alice, bob, open_question, count, django_assert_max_num_queries
):
    now = timezone.now()
    rows = Evidence.objects.bulk_create(
        Evidence(question=open_question, author=alice if i % 2 else bob, body=f"item {i}", created_at=now)
        for i in range(count))
    Evidence.objects.bulk_create(Evidence(question=open_question, author=bob, parent=rows[i], body=f"reply {i}",
                                          created_at=now) for i in range(0, count, 3))
    client = Client()
    client.force_login(bob)
    with django_assert_max_num_queries(25):
        response = client.get(f"/questions/{open_question.pk}/")
    html = response.content.decode()
    shown = len(re.findall(r'data-testid="evidence-body-', html))
    if count == 1000:
        assert 'data-testid="evidence-pages"' in html and "Evidence page 1 of 20" in html
        assert 50 <= shown <= 50 + 17  # a page of top-level items and the replies among them
        last = client.get(f"/questions/{open_question.pk}/?evidence_page=20").content.decode()
        assert f'data-testid="evidence-{rows[-1].pk}"' in last and f'data-testid="evidence-{rows[0].pk}"' not in last
    else:
        assert 'data-testid="evidence-pages"' not in html and shown == count + 4


def test_a_reply_posted_from_the_page_sits_under_its_parent(alice, bob, open_question):
    first = services.evidence_post(question=open_question, author=alice, body="The trend says so.")
    client = Client()
    client.force_login(bob)
    response = client.post(f"/questions/{open_question.pk}/evidence/",
                           {"evidence-body": "It broke in 2019.", "evidence-parent": str(first.pk)})
    assert response.status_code == 302
    reply = Evidence.objects.get(body="It broke in 2019.")
    assert reply.parent_id == first.pk
    html = client.get(f"/questions/{open_question.pk}/").content.decode()
    assert re.search(rf'aria-label="replies to #{first.pk}".*?data-testid="evidence-{reply.pk}"', html, re.S)
    # a parent that is not on this question is refused, and nothing is stored
    response = client.post(f"/questions/{open_question.pk}/evidence/",
                           {"evidence-body": "Stray reply", "evidence-parent": str(reply.pk + 1000)})
    assert response.status_code == 400 and not Evidence.objects.filter(body="Stray reply").exists()
