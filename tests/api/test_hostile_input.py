"""Hostile input against every API endpoint: always a 4xx in the ``{"error", "details"}`` envelope,
never a 5xx or an HTML page, and only statuses the OpenAPI schema documents."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.models import ApiToken
from tests.factories import add_file, make_artifact, make_notification

pytestmark = pytest.mark.django_db

DEEP_LIST = b"[" * 100_000 + b"]" * 100_000
DEEP_FILES = b'{"files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.fixture
def token(alice) -> str:
    return ApiToken.objects.issue(alice)[1]


@pytest.fixture
def api(token) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def model(alice):
    artifact = make_artifact(alice)
    add_file(artifact, "adapter_config.json", b"{}")
    add_file(artifact, "adapter_model.safetensors", b"weights")
    return artifact


def assert_envelope(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    return body


@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_FILES], ids=["list", "files"])
def test_deeply_nested_json_is_a_400_not_a_recursion_crash(api, model, body):
    response = api.post(f"/api/models/{model.id}/download", data=body, content_type="application/json")
    assert "nest" in assert_envelope(response, 400)["error"].lower()


def test_modest_nesting_is_still_parsed(api, model):
    body = json.dumps({"files": ["adapter_config.json"], "extra": [[[[{"a": [1]}]]]]})
    response = api.post(f"/api/models/{model.id}/download", data=body, content_type="application/json")
    assert response.status_code == 200
    assert list(response.json()["data"]["download_urls"]) == ["adapter_config.json"]


def test_brackets_inside_strings_do_not_count_as_nesting(api, model):
    body = json.dumps({"files": ["[" * 200], "note": "{" * 5000})
    response = api.post(f"/api/models/{model.id}/download", data=body, content_type="application/json")
    assert "unknown" in assert_envelope(response, 400)["details"]


def test_a_body_over_the_upload_limit_is_413(api, model, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"files": ["x" * 2000]})
    response = api.post(f"/api/models/{model.id}/download", data=body, content_type="application/json")
    assert_envelope(response, 413)


def test_a_20_mb_json_body_is_413_json(api, model):
    body = b'{"files": ["' + b"a" * (20 * 1024 * 1024) + b'"]}'
    response = api.post(f"/api/models/{model.id}/download", data=body, content_type="application/json")
    assert_envelope(response, 413)


def test_too_many_multipart_parts_is_400_json(api, model):
    data = {f"f{i}": "x" for i in range(1100)}
    response = api.post(f"/api/models/{model.id}/download", data=data)  # multipart/form-data
    assert response.status_code in (400, 415)
    assert_envelope(response, response.status_code)


def test_a_malformed_multipart_body_does_not_sign_every_file(api, model):
    response = api.post(
        f"/api/models/{model.id}/download",
        data=b"--broken\r\nnot really multipart",
        content_type="multipart/form-data; boundary=other",
    )
    assert "download_urls" not in response.content.decode()
    assert "malformed" in assert_envelope(response, 400)["error"].lower()


def test_download_refuses_bodies_it_cannot_read_with_415(api, model):
    response = api.post(f"/api/models/{model.id}/download", data="files", content_type="text/plain")
    assert_envelope(response, 415)


def test_an_empty_multipart_form_still_means_every_file(api, model):
    response = api.post(f"/api/models/{model.id}/download")  # the test client's empty multipart form
    assert set(response.json()["data"]["download_urls"]) == {"adapter_config.json", "adapter_model.safetensors"}


def test_form_post_with_too_many_fields_to_the_webhook_is_json(client, settings):
    settings.GPU_CLUSTER_WEBHOOK_SECRET = "secret"
    body = "&".join(f"f{i}=x" for i in range(1100))
    response = client.post(
        "/api/webhooks/training-complete", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in (400, 401)
    assert_envelope(response, response.status_code)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/nowhere", 404),
        ("get", "/api/models/not-a-uuid", 404),
        ("delete", "/api/models", 405),
        ("put", "/api/notifications/read-all", 405),
        ("get", "/api/webhooks/training-complete", 405),
    ],
)
def test_every_api_error_is_json(api, method, path, status):
    assert_envelope(getattr(api, method)(path), status)


def test_unauthenticated_api_is_401_json(client, model):
    assert_envelope(client.get("/api/models"), 401)
    assert_envelope(client.post(f"/api/models/{model.id}/download"), 401)


def test_session_form_post_with_too_many_fields_is_json(alice, model):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    body = "&".join(f"f{i}=x" for i in range(1100))
    response = browser.post(
        f"/api/models/{model.id}/download", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in (400, 403, 415)
    assert_envelope(response, response.status_code)


def test_session_post_without_csrf_is_403_json(alice, model):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert_envelope(browser.post(f"/api/models/{model.id}/download", data={}, content_type="application/json"), 403)


def test_throttled_download_grant_is_429_json(api, model, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"download_grant": "1/min"})
    url = f"/api/models/{model.id}/download"
    assert api.post(url, data={}, content_type="application/json").status_code == 200
    body = assert_envelope(api.post(url, data={}, content_type="application/json"), 429)
    assert body["details"]["retry_after_seconds"] > 0


def test_empty_sort_is_rejected(api):
    body = assert_envelope(api.get("/api/models?sort="), 400)
    assert "sort" in body["details"]


def test_html_pages_keep_html_errors(alice_client):
    response = alice_client.get("/models/not-a-model-at-all/nothing-here")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_notification_endpoints_answer_json_errors(api, alice):
    make_notification(alice)
    assert_envelope(api.post("/api/notifications/not-a-uuid/read"), 404)
    assert_envelope(api.get("/api/notifications?page=0"), 400)
    assert_envelope(Client().get("/api/notifications/unread-count"), 401)


def test_guessing_tokens_ends_in_a_429_envelope(client, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 3
    statuses = [client.get("/api/models", HTTP_AUTHORIZATION="Bearer wrong").status_code for _ in range(3)]
    assert statuses[0] == 401 and 429 in statuses
    body = assert_envelope(client.get("/api/models", HTTP_AUTHORIZATION="Bearer wrong"), 429)
    assert body["details"]["retry_after_seconds"] > 0


def test_the_schema_documents_every_status_these_probes_met():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    documented = {(m.upper(), p): set(op["responses"]) for p, item in paths.items() for m, op in item.items()}
    assert {"400", "401", "403", "404", "413", "415", "429"} <= documented[("POST", "/api/models/{id}/download")]
    assert {"400", "401", "429"} <= documented[("GET", "/api/notifications")]
    assert {"401", "404"} <= documented[("POST", "/api/notifications/{id}/read")]
    assert {"200", "400", "401", "404", "405", "409", "413"} <= documented[("POST", "/api/webhooks/training-complete")]
    token_guarded = [key for key in documented if key[1] != "/api/webhooks/training-complete"]
    assert all("429" in documented[key] for key in token_guarded)  # bad tokens are throttled everywhere
