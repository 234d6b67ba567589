"""Email on accounts: optional at sign-up, verified by a signed link, required before a prize is paid; password reset
by email."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from forecasts import prizes, services
from forecasts.models import AuditEvent, EmailAddress
from tests.builders import CLOSE, PRIZES, build_scored_question

User = get_user_model()
pytestmark = pytest.mark.django_db
LINK = re.compile(r"https?://[^\s\"<>]+/accounts/verify/[^\s\"<>]+/")


def register(api, username, email=None):
    body = {"username": username, "password": "a-long-password-1"}
    if email is not None:
        body["email"] = email
    return api.post("/api/auth/register/", body, format="json")


def path_of(url: str) -> str:
    return url[url.index("/", len("https://")):]


def test_it_mails_a_link_that_verifies_once(client_for, client, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        assert register(client_for(), "dora", "Dora@Example.org").status_code == 201
    assert [m.to for m in mailoutbox] == [["Dora@Example.org"]]
    link = LINK.search(mailoutbox[0].body).group(0)
    assert link in mailoutbox[0].alternatives[0][0]  # the HTML body carries the same link
    first = client.get(path_of(link))
    assert first.status_code == 200 and "is verified" in first.content.decode()
    assert EmailAddress.objects.get(user__username="dora").verified
    assert User.objects.get(username="dora").email == "Dora@Example.org"  # where password resets go
    again = client.get(path_of(link))
    assert again.status_code == 400 and "already been used" in again.content.decode()


def test_it_says_an_expired_link_has_expired(client_for, client, settings, django_capture_on_commit_callbacks,
                                             mailoutbox):
    settings.FA_EMAIL_VERIFY_MAX_AGE = 3600
    with django_capture_on_commit_callbacks(execute=True):
        register(client_for(), "dora", "dora@example.org")
    link = LINK.search(mailoutbox[0].body).group(0)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = client.get(path_of(link))
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert not EmailAddress.objects.get(user__username="dora").verified


def test_it_refuses_a_tampered_link(client):
    response = client.get("/accounts/verify/eyJ1IjoxLCJlIjoieEB5LnoifQ:abc:def/")
    assert response.status_code == 400 and "not valid" in response.content.decode()


def test_it_names_the_field_of_an_invalid_email(client_for):
    response = register(client_for(), "dora", "not an address")
    assert response.status_code == 400 and list(response.json()) == ["email"]
    assert not User.objects.filter(username="dora").exists()


def test_it_refuses_a_verified_email_in_use_without_saying_whose(client_for, alice):
    EmailAddress.objects.create(user=alice, email="alice@example.org", verified_at=timezone.now())
    response = register(client_for(), "mallory", "ALICE@example.org")
    assert response.status_code == 400
    assert response.json() == {"email": [services.EMAIL_REFUSED]}
    assert "alice" not in response.content.decode().replace("ALICE@example.org", "")
    # An unverified address proves nothing, so it blocks nobody.
    EmailAddress.objects.filter(user=alice).update(verified_at=None)
    assert register(client_for(), "mallory", "alice@example.org").status_code == 201


def test_it_signs_up_on_the_page_with_an_email(client, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/signup/", {"username": "dora", "password": "a-long-password-1",
                                                     "password_again": "a-long-password-1",
                                                     "email": "dora@example.org"})
    assert response.status_code == 302
    assert EmailAddress.objects.get(user__username="dora").email == "dora@example.org"
    assert len(mailoutbox) == 1


def test_it_resets_a_password_by_email(client, alice, mailoutbox):
    EmailAddress.objects.create(user=alice, email="alice@example.org", verified_at=timezone.now())
    User.objects.filter(pk=alice.pk).update(email="alice@example.org")
    assert client.post("/accounts/password_reset/", {"email": "alice@example.org"}).status_code == 302
    assert [m.to for m in mailoutbox] == [["alice@example.org"]]
    link = re.search(r"https?://\S+/accounts/reset/\S+/", mailoutbox[0].body).group(0)
    form = client.get(path_of(link), follow=True)
    assert form.status_code == 200 and "new password" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "another-password-9",
                                                    "new_password2": "another-password-9"}, follow=True)
    assert "Your password is set" in done.content.decode()
    assert client.login(username="alice", password="another-password-9")


def test_it_mails_no_reset_to_an_unverified_address(client, alice, mailoutbox):
    EmailAddress.objects.create(user=alice, email="alice@example.org")
    assert client.post("/accounts/password_reset/", {"email": "alice@example.org"}).status_code == 302
    assert mailoutbox == []


def test_it_holds_an_unverified_winners_payout_pending_verification(
        django_capture_on_commit_callbacks, client_for, expert, alice, bob, organizer):
    EmailAddress.objects.create(user=bob, email="bob@example.org", verified_at=timezone.now())
    question = build_scored_question(django_capture_on_commit_callbacks, expert=expert,
                                     predictions={alice: CLOSE}, evidence={bob: 1.0})
    with django_capture_on_commit_callbacks(execute=True):
        draft = prizes.prizes_draft(question=question, user=organizer, **PRIZES)
    payouts = client_for(organizer).get(f"/api/questions/{question.pk}/prizes/").json()
    rows = payouts["results"][0]["payouts"] if "results" in payouts else payouts[0]["payouts"]
    by_user = {row["user"]: (row["verified"], row["status"]) for row in rows}
    assert by_user == {"alice": (False, "pending verification"), "bob": (True, "payable")}  # winners unchanged
    page = client_for(organizer)
    page.force_login(organizer)
    assert "pending verification" in page.get(f"/questions/{question.pk}/").content.decode()
    prizes.prizes_award(question=question, user=organizer, allocation_id=draft.pk)
    award = AuditEvent.objects.get(action="prizes.award").data
    assert award["pending_verification"] == ["alice"]
    assert {p["user"]: p["status"] for p in award["payouts"]} == {"alice": "pending verification", "bob": "payable"}


@pytest.fixture
def mail_server_down(settings):
    """Real SMTP sending to a loopback port nothing listens on: every connection is refused."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    return port


@pytest.mark.django_db(transaction=True)  # the mail goes when the sign-up commits, as it does when served
def test_a_sign_up_whose_mail_cannot_be_sent_still_makes_the_account_and_says_so(client_for, client,
                                                                                 mail_server_down, caplog):
    api = register(client_for(), "dora", "dora@example.org")
    page = client.post("/accounts/signup/", {"username": "erin", "password": "a-long-password-1",
                                             "password_again": "a-long-password-1", "email": "erin@example.org"})
    assert api.status_code == 201 and page.status_code == 302
    assert not EmailAddress.objects.get(user__username="dora").verified
    assert not EmailAddress.objects.get(user__username="erin").verified
    assert "could not mail the verification link" in caplog.text
    # The page says so, rather than that the link is on its way; asking again from the settings page says so too.
    welcome = client.get(page["Location"]).content.decode()
    assert "could not mail the link to verify your address" in welcome and "We have mailed you" not in welcome
    again = client.post("/notifications/settings/", {"action": "email", "email": "erin@example.org"}, follow=True)
    assert "could not mail the link just now" in again.content.decode()


def test_a_password_reset_whose_mail_cannot_be_sent_answers_as_for_any_address(client, alice, mail_server_down,
                                                                               caplog):
    """Django logs the failure and shows the same "check your mail" page as for an address it does not know: no
    500, and nothing that tells a stranger whether the address has an account."""
    EmailAddress.objects.create(user=alice, email="alice@example.org", verified_at=timezone.now())
    User.objects.filter(pk=alice.pk).update(email="alice@example.org")
    known = client.post("/accounts/password_reset/", {"email": "alice@example.org"})
    unknown = client.post("/accounts/password_reset/", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert "Failed to send password reset email" in caplog.text
