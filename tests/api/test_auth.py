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
