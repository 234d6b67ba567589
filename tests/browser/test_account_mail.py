"""Mail on accounts, clicked through in Debian's Chromium against the live server, the mail going by SMTP to a real
server (aiosmtpd, tests/smtp_sink.py) and its links read from the mail as a person would: the verification link from
sign-up works once and not after it expires; a password reset by mail."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from forecasts.models import EmailAddress
from tests.browser.helpers import log_in
from tests.browser.test_pages import page  # noqa: F401 - the shared Chromium fixture
from tests.smtp_sink import body_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

User = get_user_model()
VERIFY_LINK = re.compile(r"https?://[^\s\"<>]+/accounts/verify/[^\s\"<>]+/")
RESET_LINK = re.compile(r"https?://[^\s\"<>]+/accounts/reset/[^\s\"<>]+/")


@pytest.fixture
def sink(settings, live_server, smtp_sink):
    """The live server mails by SMTP to the sink, and its links (FA_SITE_URL) point at the live server.

    Both are sent in the request that causes them (sign-up mails when its transaction commits, the reset view at
    once), so the mail is in the sink when the page has loaded; no Celery is involved."""
    for name, value in smtp_sink.django_settings().items():
        setattr(settings, name, value)
    settings.FA_SITE_URL = live_server.url
    return smtp_sink


def _sign_up(page, base: str, username: str, email: str) -> None:  # noqa: F811 - `page` is the fixture's value
    page.goto(f"{base}/accounts/signup/")
    form = page.get_by_role("form", name="sign up")
    form.locator("#id_username").fill(username)
    form.locator("#id_password").fill("a-long-pass-phrase")
    form.locator("#id_password_again").fill("a-long-pass-phrase")
    form.locator("#id_email").fill(email)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "We have mailed you a link to verify your address" in page.get_by_test_id("messages").inner_text()


def _only_mail(sink, to: str) -> str:
    [mail] = sink.wait_for(1)
    assert mail["To"] == to
    return body_text(mail)


def test_it_verifies_the_address_from_the_mailed_link_once(live_server, sink, page):  # noqa: F811
    _sign_up(page, live_server.url, "dora", "dora@example.org")
    link = VERIFY_LINK.search(_only_mail(sink, "dora@example.org")).group(0)
    assert link.startswith(live_server.url + "/")
    assert not EmailAddress.objects.get(user__username="dora").verified

    response = page.goto(link)
    assert response.status == 200
    assert page.get_by_test_id("verify-result").inner_text() == "Your email address dora@example.org is verified."
    assert EmailAddress.objects.get(user__username="dora").verified
    assert User.objects.get(username="dora").email == "dora@example.org"  # where a password reset would go
    page.goto(f"{live_server.url}/notifications/settings/")  # still signed in from the sign-up
    assert page.get_by_test_id("email-status").inner_text() == "dora@example.org: verified"

    again = page.goto(link)
    assert again.status == 400
    assert page.get_by_test_id("verify-result").inner_text() == \
        "this verification link has already been used: the address is verified"


def test_it_says_an_expired_link_has_expired(live_server, sink, page, settings):  # noqa: F811
    _sign_up(page, live_server.url, "dora", "dora@example.org")
    link = VERIFY_LINK.search(_only_mail(sink, "dora@example.org")).group(0)

    # The clock of this process (the live server's thread included) moves past the link's lifetime; the browser's
    # does not need to.
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.FA_EMAIL_VERIFY_MAX_AGE + 60)):
        response = page.goto(link)
        assert response.status == 400
        assert page.get_by_test_id("verify-result").inner_text() == \
            "this verification link has expired; ask for a new one on your settings page"
    assert not EmailAddress.objects.get(user__username="dora").verified
    page.goto(f"{live_server.url}/notifications/settings/")
    assert "not verified yet" in page.get_by_test_id("email-status").inner_text()


@pytest.fixture
def erin(db):
    """An account whose address is verified: password resets go there."""
    user = User.objects.create_user(username="erin", email="erin@example.org", password="the-old-pass-phrase")
    EmailAddress.objects.create(user=user, email="erin@example.org", verified_at=timezone.now())
    return user


def test_it_resets_a_forgotten_password_by_mail(live_server, sink, erin, page):  # noqa: F811
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    form = page.get_by_role("form", name="password reset")
    form.locator("#id_email").fill("erin@example.org")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("reset-sent").is_visible()

    link = RESET_LINK.search(_only_mail(sink, "erin@example.org")).group(0)
    assert link.startswith(base + "/")
    page.goto(link)
    form = page.get_by_role("form", name="new password")
    form.locator("#id_new_password1").fill("the-new-pass-phrase")
    form.locator("#id_new_password2").fill("the-new-pass-phrase")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "Your password is set" in page.get_by_test_id("reset-complete").inner_text()

    # The link worked once.
    page.goto(link)
    assert "This link is not valid" in page.locator("main").inner_text()

    log_in(page, base, "erin", "the-old-pass-phrase")
    assert page.url.startswith(f"{base}/accounts/login/")
    assert "correct username and password" in page.locator("main").inner_text()
    assert page.get_by_role("link", name="erin", exact=True).count() == 0

    log_in(page, base, "erin", "the-new-pass-phrase")
    assert page.url == f"{base}/"
    assert page.get_by_role("link", name="erin", exact=True).is_visible()
