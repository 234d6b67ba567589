import pytest

pytestmark = pytest.mark.django_db


def test_it_registers_and_answers_a_token(client_for):
    response = client_for().post("/api/auth/register/", {"username": "newbie", "password": "long-enough-pw"},
                                 format="json")
    assert response.status_code == 201
    token = response.json()["token"]
    again = client_for().post("/api/auth/token/", {"username": "newbie", "password": "long-enough-pw"}, format="json")
    assert again.status_code == 200
    assert again.json()["token"] == token


def test_it_refuses_a_taken_username(client_for, alice):
    response = client_for().post("/api/auth/register/", {"username": "alice", "password": "long-enough-pw"},
                                 format="json")
    assert response.status_code == 400
    assert "username" in response.json()


def test_it_refuses_a_short_password(client_for):
    response = client_for().post("/api/auth/register/", {"username": "x1", "password": "short"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()


def test_it_refuses_a_wrong_password(client_for, alice):
    response = client_for().post("/api/auth/token/", {"username": "alice", "password": "nope-nope-nope"},
                                 format="json")
    assert response.status_code == 401


def test_calls_without_a_token_are_401(client_for):
    assert client_for().get("/api/questions/").status_code == 401
    assert client_for().post("/api/questions/", {}, format="json").status_code == 401


def test_a_token_authenticates(client_for, alice):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=alice)
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/questions/").status_code == 200


def test_a_registration_that_loses_the_race_for_a_username_is_a_400(client_for, monkeypatch):
    # Two registrations of one name both pass the "is it taken?" check; the other one inserts first. Its row is
    # written here between this registration's check and its insert (password validation runs in between); being in
    # this request's transaction, it is rolled back with the 400, unlike a real concurrent registration's.
    from django.contrib.auth import get_user_model, password_validation

    User = get_user_model()
    validate = password_validation.validate_password

    def the_other_registration_inserts_first(password, user=None, *args, **kwargs):
        User.objects.create_user(username=user.username, password="another-pass-phrase")
        return validate(password, user, *args, **kwargs)

    monkeypatch.setattr(password_validation, "validate_password", the_other_registration_inserts_first)
    client = client_for()
    client.raise_request_exception = False  # a crash must show as the 500 a client would get
    response = client.post("/api/auth/register/", {"username": "racer", "password": "long-enough-pw"},
                           format="json")
    assert response.status_code == 400, response.content[:200]
    assert response.json() == {"username": ["is already taken"]}
