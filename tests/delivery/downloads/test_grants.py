"""Download grants (``POST /api/models/<id>/download``): what is signed and recorded, refusals,
throttling, the storage backend's URLs, and CSRF or token auth on the POST."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from django.test import Client
from django.utils import timezone
from rest_framework.throttling import ScopedRateThrottle

from artifacts.models import DownloadGrant
from tests.conftest import NOT_FOUND
from tests.delivery.downloads.conftest import CONFIG, WEIGHTS
from tests.delivery.grants import body_of, grant
from tests.factories import make_artifact

pytestmark = pytest.mark.django_db


# --- Grants ---------------------------------------------------------------------------------------
def test_grant_signs_every_file_and_records_it(alice, owner, model, settings):
    before = timezone.now().replace(microsecond=0)

    response = grant(owner, model, {})

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    urls = body["data"]["download_urls"]
    assert set(urls) == {"adapter_config.json", "adapter_model.safetensors"}
    assert all(url.startswith("http://testserver/downloads/") for url in urls.values())
    assert body_of(Client().get(urls["adapter_config.json"])) == CONFIG
    assert body_of(Client().get(urls["adapter_model.safetensors"])) == WEIGHTS

    expires_text = body["data"]["expires_at"]
    assert expires_text.endswith("Z")
    expires_at = datetime.fromisoformat(expires_text)
    assert expires_at.tzinfo is not None
    assert before + timedelta(seconds=settings.SIGNED_URL_TTL) <= expires_at
    assert expires_at <= timezone.now() + timedelta(seconds=settings.SIGNED_URL_TTL)

    record = DownloadGrant.objects.get()
    assert record.user == alice
    assert record.artifact == model
    assert sorted(record.files) == ["adapter_config.json", "adapter_model.safetensors"]
    assert record.expires_at == expires_at
    model.refresh_from_db()
    assert model.links_handed_out == 1


@pytest.mark.parametrize("body", [None, {}, {"files": None}], ids=["no body", "empty object", "files null"])
def test_grant_without_a_file_list_signs_all_files(owner, model, body):
    response = grant(owner, model, body)
    assert response.status_code == 200
    assert set(response.json()["data"]["download_urls"]) == {"adapter_config.json", "adapter_model.safetensors"}


def test_grant_of_chosen_files_signs_only_those(owner, model):
    response = grant(owner, model, {"files": ["adapter_config.json", "adapter_config.json"]})
    assert list(response.json()["data"]["download_urls"]) == ["adapter_config.json"]
    assert DownloadGrant.objects.get().files == ["adapter_config.json"]


def test_each_grant_counts_as_a_download(owner, model):
    for _ in range(3):
        assert grant(owner, model, {}).status_code == 200
    model.refresh_from_db()
    assert model.links_handed_out == 3
    assert DownloadGrant.objects.filter(artifact=model).count() == 3


def test_unknown_file_names_are_400_naming_them_and_nothing_is_recorded(owner, model):
    response = grant(owner, model, {"files": ["adapter_config.json", "secrets.txt", "../etc/passwd"]})

    assert response.status_code == 400
    body = response.json()
    assert "secrets.txt" in body["error"] and "../etc/passwd" in body["error"]
    assert body["details"]["unknown"] == ["secrets.txt", "../etc/passwd"]
    assert body["details"]["available"] == ["adapter_config.json", "adapter_model.safetensors"]
    assert not DownloadGrant.objects.exists()
    model.refresh_from_db()
    assert model.links_handed_out == 0


@pytest.mark.parametrize(
    "body",
    [
        {"files": []},
        {"files": "adapter_config.json"},
        {"files": [{"name": "adapter_config.json"}]},
        {"files": [["adapter_config.json"]]},
        {"files": [True]},
        ["adapter_config.json"],
    ],
    ids=["empty list", "string", "object item", "nested list", "boolean item", "list body"],
)
def test_a_malformed_body_is_400(owner, model, body):
    response = grant(owner, model, body)
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}
    assert not DownloadGrant.objects.exists()


def test_invalid_json_is_400(owner, model):
    response = owner.post(f"/api/models/{model.id}/download", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("JSON parse error")


def test_grant_works_with_a_trailing_slash(owner, model):
    response = owner.post(f"/api/models/{model.id}/download/", {}, content_type="application/json")
    assert response.status_code == 200


def test_grant_for_a_model_without_files_is_404(alice, owner):
    empty = make_artifact(alice)
    response = grant(owner, empty, {})
    assert response.status_code == 404
    assert response.json() == {"error": "No artifact files available"}


@pytest.mark.parametrize("target", ["missing", "deleted", "not-a-uuid"])
def test_grant_for_a_missing_or_deleted_model_is_404(alice, owner, target):
    model_id = {
        "missing": uuid.uuid4(),
        "deleted": make_artifact(alice, deleted_at=timezone.now()).id,
        "not-a-uuid": "abc",
    }[target]
    response = owner.post(f"/api/models/{model_id}/download", {}, content_type="application/json")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_get_on_the_grant_endpoint_is_405(owner, model):
    assert owner.get(f"/api/models/{model.id}/download").status_code == 405


def test_grants_are_throttled(owner, model, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"download_grant": "2/min"})
    assert grant(owner, model, {}).status_code == 200
    assert grant(owner, model, {}).status_code == 200

    response = grant(owner, model, {})

    assert response.status_code == 429
    assert response.json()["error"].startswith("Request was throttled")
    assert int(response["Retry-After"]) > 0
    assert DownloadGrant.objects.count() == 2


class PresigningBackend:
    """A remote backend (no local path) that records what it was asked to sign."""

    calls: list[tuple[str, str, int]] = []

    def path(self, key):
        raise NotImplementedError

    def signed_url(self, key, filename, ttl):
        self.calls.append((key, filename, ttl))
        return f"https://bucket.example/{key}?X-Amz-Expires={ttl}"


def test_links_are_ours_on_every_backend_and_redirect_to_a_url_minted_per_request(owner, model, monkeypatch, settings):
    """S3 and Supabase sign nothing at grant time: the link is ours for SIGNED_URL_TTL, and each
    request to it mints a backend URL valid 60 s."""
    settings.SIGNED_URL_TTL = 120
    PresigningBackend.calls = []
    monkeypatch.setattr("artifacts.pages.downloads.artifact_storage", PresigningBackend)
    before = timezone.now()
    response = grant(owner, model, {"files": ["adapter_config.json"]})

    url = response.json()["data"]["download_urls"]["adapter_config.json"]
    assert url.startswith("http://testserver/downloads/")
    expires_at = datetime.fromisoformat(response.json()["data"]["expires_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=118) <= expires_at - before <= timedelta(seconds=121)
    assert PresigningBackend.calls == []

    key = model.artifacts["adapter_config.json"]
    first = Client().get(url)
    second = Client().get(url)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == f"https://bucket.example/{key}?X-Amz-Expires=60"
    assert "no-store" in first["Cache-Control"]
    assert PresigningBackend.calls == [(key, "adapter_config.json", 60)] * 2

    head = Client().head(url)
    assert head.status_code == 200
    assert head["Content-Length"] == str(len(CONFIG))
    assert "adapter_config.json" in head["Content-Disposition"]
    assert len(PresigningBackend.calls) == 2  # HEAD is answered from the records


def failing_backend(error: Exception):
    class FailingBackend:
        def path(self, key):
            raise NotImplementedError

        def signed_url(self, key, filename, ttl):
            raise error

    return FailingBackend


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject"),
        RuntimeError("Supabase answered 500"),
    ],
    ids=["s3", "supabase"],
)
def test_storage_that_cannot_mint_makes_the_link_say_try_again(owner, model, monkeypatch, caplog, error):
    url = grant(owner, model, {"files": ["adapter_config.json"]}).json()["data"]["download_urls"]["adapter_config.json"]
    monkeypatch.setattr("artifacts.pages.downloads.artifact_storage", failing_backend(error))

    with caplog.at_level("ERROR", logger="artifacts.pages.downloads"):
        response = Client().get(url)

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode().strip() == "Storage is not answering right now; try the link again in a minute."
    assert any(record.exc_info and record.exc_info[1] is error for record in caplog.records)


def test_a_signing_failure_is_a_500_in_the_envelope_and_records_nothing(owner, model, monkeypatch, caplog):
    error = RuntimeError("no URL configuration")

    def failing(key, filename, ttl):
        raise error

    monkeypatch.setattr("artifacts.services.grants.download_link", failing)
    with caplog.at_level("ERROR", logger="artifacts.services.grants"):
        response = grant(owner, model, {})

    assert response.status_code == 500
    assert response.json()["error"] == "Failed to generate download URLs"
    assert not DownloadGrant.objects.exists()
    model.refresh_from_db()
    assert model.links_handed_out == 0
    assert any(record.exc_info and record.exc_info[1] is error for record in caplog.records)


# --- CSRF and token auth on the POST --------------------------------------------------------------
def test_a_session_post_without_csrf_token_is_403(alice, model):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    response = grant(browser, model, {})

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    assert not DownloadGrant.objects.exists()


def test_a_session_post_with_csrf_token_is_accepted(alice, model):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    browser.get("/api/models", HTTP_ACCEPT="text/html")  # the browsable API page sets the CSRF cookie
    token = browser.cookies["csrftoken"].value

    response = grant(browser, model, {}, HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200


def test_a_bearer_token_post_needs_no_csrf_token(alice, model):
    from accounts.models import ApiToken

    _, raw = ApiToken.objects.issue(alice)
    script = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {raw}"})
    assert grant(script, model, {}).status_code == 200


def test_a_bad_bearer_token_cannot_get_a_grant(model):
    script = Client(headers={"Authorization": "Bearer plt_not-a-real-token-at-all"})
    response = grant(script, model, {})
    assert response.status_code == 401
    assert not DownloadGrant.objects.exists()
