"""Sign-in and sign-up are throttled (a real cache: LocMem), tokens end, and usernames that look alike are one name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from forecasts.models import Account

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "correct-horse-battery"


@pytest.fixture
def organizer_with_password(db):
    return User.objects.create_user("organizer", password=PASSWORD, is_staff=True)


def _token(client_for, username, password, addr="203.0.113.7"):
    return client_for().post("/api/auth/token/", {"username": username, "password": password}, format="json",
                             REMOTE_ADDR=addr)


def test_it_answers_429_with_retry_after_after_five_wrong_passwords_even_to_the_right_one(
        client_for, organizer_with_password):
    for _ in range(5):
        assert _token(client_for, "organizer", "wrong-wrong-wrong").status_code == 401
    right = _token(client_for, "organizer", PASSWORD)
    assert right.status_code == 429
    assert int(right["Retry-After"]) >= 1


def test_it_limits_one_username_across_addresses(client_for, organizer_with_password):
    for i in range(5):
        _token(client_for, "organizer", "wrong-wrong-wrong", addr=f"198.51.100.{i}")
    assert _token(client_for, "Organizer", PASSWORD, addr="198.51.100.99").status_code == 429


def test_it_limits_one_address_across_usernames(client_for, organizer_with_password):
    for i in range(5):
        _token(client_for, f"guess{i}", "wrong-wrong-wrong")
    assert _token(client_for, "organizer", PASSWORD).status_code == 429
    # Another address is unaffected... until its own username bucket fills.
    assert _token(client_for, "organizer", PASSWORD, addr="192.0.2.1").status_code == 200


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_the_web_and_admin_sign_in_are_throttled_the_same_way(path, organizer_with_password):
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(5):
        assert client.post(path, {"username": "organizer", "password": "wrong-wrong-wrong"}).status_code == 200
    response = client.post(path, {"username": "organizer", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


def test_registration_is_limited_per_address(client_for, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    # DRF's throttles read their rates from a class attribute taken from the settings at import; patch that.
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "register": "3/hour"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    codes = [client_for().post("/api/auth/register/", {"username": f"pupil{i}", "password": "long-enough-pw"},
                               format="json", REMOTE_ADDR="203.0.113.50").status_code for i in range(4)]
    other = client_for().post("/api/auth/register/", {"username": "pupil9", "password": "long-enough-pw"},
                              format="json", REMOTE_ADDR="203.0.113.51")
    assert codes == [201, 201, 201, 429]
    assert other.status_code == 201


def test_the_rates_are_read_from_the_environment():
    import subprocess
    import sys

    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])")
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin:/bin", "FA_THROTTLE_LOGIN": "7/min",
           "FA_THROTTLE_REGISTER": "9/hour", "FA_THROTTLE_ANON": "11/min", "FA_THROTTLE_USER": "13/min"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "'login': '7/min'" in result.stdout and "'register': '9/hour'" in result.stdout, result.stderr
    assert "'anon': '11/min'" in result.stdout and "'user': '13/min'" in result.stdout
    bad = subprocess.run([sys.executable, "-c", code], env={**env, "FA_THROTTLE_LOGIN": "5 per minute"},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "FA_THROTTLE_LOGIN" in bad.stderr


def test_registration_records_the_sign_up_address(client_for):
    client_for().post("/api/auth/register/", {"username": "newbie", "password": "long-enough-pw"}, format="json",
                      REMOTE_ADDR="203.0.113.77")
    assert Account.objects.get(user__username="newbie").signup_ip == "203.0.113.77"


def test_the_sign_up_page_records_the_address_too():
    Client(REMOTE_ADDR="203.0.113.78").post("/accounts/signup/", {
        "username": "webbie", "password": "long-enough-pw", "password_again": "long-enough-pw"})
    assert Account.objects.get(user__username="webbie").signup_ip == "203.0.113.78"


# --- tokens ---------------------------------------------------------------------------------------------------------


def _authed(client_for, token):
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_logout_deletes_the_callers_token(client_for, alice):
    token = Token.objects.create(user=alice)
    client = _authed(client_for, token)
    assert client.post("/api/auth/logout/").status_code == 204
    assert client.get("/api/questions/").status_code == 401
    assert not Token.objects.filter(user=alice).exists()


def test_a_web_password_change_ends_the_users_tokens(client_for):
    user = User.objects.create_user("carl", password=PASSWORD)
    token = Token.objects.create(user=user)
    web = Client()
    web.force_login(user)
    response = web.post("/accounts/password_change/", {"old_password": PASSWORD, "new_password1": "a-new-pass-phrase",
                                                       "new_password2": "a-new-pass-phrase"})
    assert response.status_code == 302
    assert _authed(client_for, token).get("/api/questions/").status_code == 401


def test_an_expired_token_is_a_401_that_says_so(client_for, alice, settings):
    settings.FA_TOKEN_TTL_DAYS = 30
    token = Token.objects.create(user=alice)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=31))
    response = _authed(client_for, token).get("/api/questions/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_token_within_its_lifetime_works_and_a_new_sign_in_replaces_an_expired_one(client_for, settings):
    settings.FA_TOKEN_TTL_DAYS = 30
    user = User.objects.create_user("dora", password=PASSWORD)
    old = Token.objects.create(user=user)
    assert _authed(client_for, old).get("/api/questions/").status_code == 200
    Token.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=31))
    fresh = _token(client_for, "dora", PASSWORD).json()["token"]
    assert fresh != old.key


def test_password_reset_does_not_tell_whether_an_address_has_an_account():
    # Now that mail exists the reset works (tests/api/test_email_accounts.py); it must still not reveal accounts.
    client = Client()
    known = client.post("/accounts/password_reset/", {"email": "nobody@example.org"})
    assert known.status_code == 302
    assert known["Location"].endswith("/accounts/password_reset/done/")


# --- usernames and passwords ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "field_message"), [
    ("".join(chr(0xFEE0 + ord(c)) for c in "organizer"), "taken"),  # fullwidth: NFKC makes it `organizer`
    ("ORGANIZER", "taken"),
    ("\u0430lice", "alphabet"),  # a Cyrillic a, then Latin
])
def test_it_refuses_names_that_look_like_another(client_for, organizer_with_password, alice, name, field_message):
    response = client_for().post("/api/auth/register/", {"username": name, "password": "long-enough-pw"},
                                 format="json")
    assert response.status_code == 400
    assert field_message in response.json()["username"][0]


def test_a_name_in_one_other_alphabet_is_fine(client_for):
    response = client_for().post("/api/auth/register/", {"username": "\u0430\u043b\u0438\u0441\u0430",
                                                         "password": "long-enough-pw"}, format="json")
    assert response.status_code == 201


def test_the_database_refuses_a_second_case_of_one_name(alice):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="ALICE")


def test_it_refuses_a_password_like_the_username(client_for):
    response = client_for().post("/api/auth/register/", {"username": "longusername", "password": "longusername1"},
                                 format="json")
    assert response.status_code == 400
    assert "password" in response.json()
