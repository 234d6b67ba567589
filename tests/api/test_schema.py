"""The OpenAPI schema is complete, valid, public, and its UI is served from this server (no CDN)."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    text = (tmp_path / "schema.yml").read_text()
    for path in ("/api/questions/{id}/prior/", "/api/questions/{id}/posterior/", "/api/questions/{id}/scores/",
                 "/api/questions/{id}/aggregate/", "/api/questions/{id}/prizes/", "/api/questions/{id}/prizes/award/",
                 "/api/jobs/{id}/", "/api/auth/register/", "/api/auth/token/"):
        assert f"{path}:" in text, path


def test_the_schema_and_its_ui_need_no_sign_in_and_no_cdn(client):
    assert client.get("/api/schema/").status_code == 200
    page = client.get("/api/schema/ui/").content.decode()
    external = [url for url in re.findall(r'(?:src|href)="([^"]+)"', page) if url.startswith(("http:", "https:", "//"))]
    assert external == []


def test_the_schema_describes_what_the_posterior_and_aggregate_answer(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]

    def response_fields(path, method):
        ref = schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        return set(components[ref.rsplit("/", 1)[1]]["properties"])

    stored = {"spec", "cdf", "mass_below", "mass_above", "summary"}
    assert stored | {"job"} <= response_fields("/api/questions/{id}/posterior/", "put")
    assert stored <= response_fields("/api/questions/{id}/posterior/", "get")
    assert stored | {"method", "n_predictions", "scores", "updated_at"} <= response_fields(
        "/api/questions/{id}/aggregate/", "get")
    assert "/api/jobs/{id}/retry/" in schema["paths"]
