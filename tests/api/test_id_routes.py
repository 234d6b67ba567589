"""An id in a path is digits; anything else is no such object (404), on every route that takes one, never a 500."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ROUTES = [
    ("post", "/api/evidence/{id}/endorse/"),
    ("get", "/api/questions/{id}/"),
    ("get", "/api/questions/{id}/predictions/"),
    ("get", "/api/questions/{id}/aggregate/"),
    ("get", "/api/questions/{id}/prizes/"),
    ("get", "/api/questions/{id}/leaderboard/"),
    ("get", "/api/jobs/{id}/"),
    ("get", "/api/competitions/{id}/"),
    ("get", "/api/competitions/{id}/leaderboard/"),
    ("get", "/questions/{id}/"),
    ("post", "/questions/{id}/close/"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("ident", ["abc", "1.5", "-1", "1e3", "²"])
def test_a_non_numeric_id_is_404_not_a_crash(client_for, alice, method, path, ident):
    client = client_for(alice)
    client.raise_request_exception = False  # a crash must show as the 500 a client would get
    response = getattr(client, method)(path.format(id=ident))
    assert response.status_code == 404, response.content[:200]
