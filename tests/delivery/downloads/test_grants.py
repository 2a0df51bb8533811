"""Download grants (``POST /api/models/<id>/download``) and the signed local file endpoint."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from botocore.exceptions import ClientError
from django.core import signing
from django.test import Client
from django.utils import timezone
from django.utils.http import http_date, parse_http_date
from rest_framework.throttling import ScopedRateThrottle

from artifacts.models import DownloadGrant
from artifacts.storage.signing import make_token
from tests.conftest import NOT_FOUND
from tests.delivery.grants import grant, signed_url
from tests.factories import add_file, make_artifact

pytestmark = pytest.mark.django_db

WEIGHTS = bytes(range(256)) * 4 + b"tail"  # 1028 bytes, every offset distinguishable
CONFIG = b'{"r": 16, "lora_alpha": 32}'


@pytest.fixture
def model(alice):
    artifact = make_artifact(alice)
    add_file(artifact, "adapter_config.json", CONFIG)
    add_file(artifact, "adapter_model.safetensors", WEIGHTS)
    return artifact


@pytest.fixture
def owner(alice_client) -> Client:
    return alice_client


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


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


def test_urls_come_from_the_configured_backend_with_the_ttl(owner, model, monkeypatch, settings):
    """S3 and Supabase backends sign the URL themselves: the grant passes key, name and TTL through."""
    settings.SIGNED_URL_TTL = 120
    calls = []

    class PresigningBackend:
        def signed_url(self, key, filename, ttl):
            calls.append((key, filename, ttl))
            return f"https://bucket.example/{key}?X-Amz-Expires={ttl}"

    monkeypatch.setattr("artifacts.services.grants.artifact_storage", PresigningBackend)
    response = grant(owner, model, {"files": ["adapter_config.json"]})

    key = model.artifacts["adapter_config.json"]
    assert calls == [(key, "adapter_config.json", 120)]
    assert response.json()["data"]["download_urls"] == {
        "adapter_config.json": f"https://bucket.example/{key}?X-Amz-Expires=120"
    }


def failing_backend(error: Exception):
    class FailingBackend:
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
def test_a_signing_failure_is_a_500_in_the_envelope_and_records_nothing(owner, model, monkeypatch, caplog, error):
    monkeypatch.setattr("artifacts.services.grants.artifact_storage", failing_backend(error))

    with caplog.at_level("ERROR", logger="artifacts.services.grants"):
        response = grant(owner, model, {})

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "details"}
    assert body["error"] == "Failed to generate download URLs"
    assert "adapter_config.json" in body["details"]
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


# --- The signed local file endpoint ---------------------------------------------------------------
def test_signed_url_downloads_the_file_as_an_attachment(owner, model):
    url = signed_url(owner, model)
    response = Client().get(url)

    assert response.status_code == 200
    assert response.streaming  # FileResponse: streamed, sendfile-able
    assert body_of(response) == WEIGHTS
    assert response["Content-Length"] == str(len(WEIGHTS))
    assert response["Content-Disposition"] == 'attachment; filename="adapter_model.safetensors"'
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{hashlib.sha256(WEIGHTS).hexdigest()}"'


def test_head_answers_headers_without_a_body(owner, model):
    response = Client().head(signed_url(owner, model))
    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Length"] == str(len(WEIGHTS))
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{hashlib.sha256(WEIGHTS).hexdigest()}"'
    assert response["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("range_header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, len(WEIGHTS) - 1),
        ("bytes=-50", len(WEIGHTS) - 50, len(WEIGHTS) - 1),
        ("bytes=1000-5000", 1000, len(WEIGHTS) - 1),
        ("bytes=-5000", 0, len(WEIGHTS) - 1),
        ("bytes=7-7", 7, 7),
    ],
)
def test_range_requests_return_exact_slices(owner, model, range_header, first, last):
    response = Client().get(signed_url(owner, model), HTTP_RANGE=range_header)

    assert response.status_code == 206
    assert body_of(response) == WEIGHTS[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(WEIGHTS)}"
    assert response["Content-Length"] == str(last - first + 1)


def test_a_range_spanning_many_stream_blocks_is_exact(alice, owner):
    import os

    big = os.urandom(300_000)
    artifact = make_artifact(alice)
    add_file(artifact, "adapter_model.bin", big)
    url = signed_url(owner, artifact, "adapter_model.bin")

    middle = Client().get(url, HTTP_RANGE="bytes=5000-250000")
    whole = Client().get(url)

    assert body_of(middle) == big[5000:250001]
    assert middle["Content-Length"] == str(245_001)
    assert body_of(whole) == big


def test_head_with_a_range_describes_the_slice(owner, model):
    response = Client().head(signed_url(owner, model), HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-99/{len(WEIGHTS)}"
    assert response["Content-Length"] == "100"


@pytest.mark.parametrize("range_header", ["bytes=1028-", "bytes=5000-6000", "bytes=-0"])
def test_an_unsatisfiable_range_is_416(owner, model, range_header):
    response = Client().get(signed_url(owner, model), HTTP_RANGE=range_header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(WEIGHTS)}"


@pytest.mark.parametrize("range_header", ["bytes=abc", "lines=0-10", "bytes=0-1,5-6", "bytes=50-10", "bytes=-"])
def test_a_malformed_or_multi_range_header_is_ignored(owner, model, range_header):
    response = Client().get(signed_url(owner, model), HTTP_RANGE=range_header)
    assert response.status_code == 200
    assert body_of(response) == WEIGHTS


def test_curl_resume_gives_the_exact_file(owner, model):
    """``curl -C -``: an interrupted transfer continues with ``Range: bytes=<have>-``."""
    url = signed_url(owner, model)
    have = body_of(Client().get(url))[:321]  # the connection dropped after 321 bytes

    rest = Client().get(url, HTTP_RANGE=f"bytes={len(have)}-")

    assert rest.status_code == 206
    whole = have + body_of(rest)
    detail = owner.get(f"/api/models/{model.id}").json()["data"]
    expected = next(f["sha256"] for f in detail["files"] if f["filename"] == "adapter_model.safetensors")
    assert hashlib.sha256(whole).hexdigest() == expected


def test_if_none_match_with_the_current_etag_is_304(owner, model):
    url = signed_url(owner, model)
    etag = Client().head(url)["ETag"]

    response = Client().get(url, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response.content == b""
    assert Client().get(url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200


def test_if_range_resumes_only_the_same_file(owner, model):
    url = signed_url(owner, model)
    etag = Client().head(url)["ETag"]

    same = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=etag)
    changed = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE='"an-older-version"')

    assert same.status_code == 206
    assert body_of(same) == WEIGHTS[10:20]
    assert changed.status_code == 200
    assert body_of(changed) == WEIGHTS


def test_if_range_with_a_later_date_sends_the_whole_file(owner, model):
    """A date only matches Last-Modified exactly (RFC 9110 §13.1.5): "later" is not "unchanged"."""
    url = signed_url(owner, model)
    last_modified = parse_http_date(Client().head(url)["Last-Modified"])

    later = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=http_date(last_modified + 3600))
    earlier = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=http_date(last_modified - 3600))
    junk = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE="yesterday")

    for response in (later, earlier, junk):
        assert response.status_code == 200
        assert "Content-Range" not in response
        assert body_of(response) == WEIGHTS


def test_if_range_with_the_exact_last_modified_date_resumes(owner, model):
    url = signed_url(owner, model)
    last_modified = Client().head(url)["Last-Modified"]

    response = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=last_modified)

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-19/{len(WEIGHTS)}"
    assert body_of(response) == WEIGHTS[10:20]


def test_if_range_with_a_weak_etag_sends_the_whole_file(owner, model):
    url = signed_url(owner, model)
    etag = Client().head(url)["ETag"]

    response = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=f"W/{etag}")

    assert response.status_code == 200
    assert body_of(response) == WEIGHTS


def test_a_tampered_token_is_403(owner, model):
    url = signed_url(owner, model)
    prefix, token = url.rsplit("/", 1)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    response = Client().get(f"{prefix}/{tampered}")

    assert response.status_code == 403
    assert b"not valid" in response.content


def test_a_token_cannot_be_rebound_to_another_key(alice, owner, model):
    """Swapping the signed payload for another key (or another user's file) breaks the signature."""
    other = make_artifact(alice)
    add_file(other, "adapter_model.safetensors", b"another model's weights")
    url = signed_url(owner, model)
    prefix, token = url.rsplit("/", 1)
    _, timestamp, signature = token.rsplit(":", 2)
    other_token = make_token(other.artifacts["adapter_model.safetensors"], "adapter_model.safetensors", 3600)
    forged = f"{other_token.rsplit(':', 2)[0]}:{timestamp}:{signature}"
    assert Client().get(f"{prefix}/{other_token}").status_code == 200  # the honest token works

    response = Client().get(f"{prefix}/{forged}")

    assert response.status_code == 403


def test_a_token_signed_for_another_purpose_is_403(model):
    key = model.artifacts["adapter_model.safetensors"]
    foreign = signing.dumps({"k": key, "n": "x", "e": 2**40}, salt="some.other.purpose", compress=True)
    assert Client().get(f"/downloads/{foreign}").status_code == 403


def test_each_token_opens_only_its_own_key(alice, owner, model):
    other = make_artifact(alice)
    add_file(other, "adapter_model.safetensors", b"another model's weights")

    mine = Client().get(signed_url(owner, model))
    theirs = Client().get(signed_url(owner, other))

    assert body_of(mine) == WEIGHTS
    assert body_of(theirs) == b"another model's weights"


def test_an_expired_url_is_403(owner, model, settings):
    url = signed_url(owner, model)
    assert Client().head(url).status_code == 200

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SIGNED_URL_TTL + 5), tick=False):
        response = Client().get(url)

    assert response.status_code == 403
    assert b"expired" in response.content


def test_a_url_still_works_just_before_expiry(owner, model, settings):
    url = signed_url(owner, model)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SIGNED_URL_TTL - 5), tick=False):
        assert Client().get(url).status_code == 200


def test_a_file_of_a_model_deleted_after_the_grant_is_gone(owner, model):
    url = signed_url(owner, model)
    type(model).objects.filter(pk=model.pk).update(deleted_at=timezone.now())
    assert Client().get(url).status_code == 404


def test_a_file_missing_from_storage_is_404(owner, model, artifact_root):
    url = signed_url(owner, model)
    (artifact_root / model.artifacts["adapter_model.safetensors"]).unlink()
    assert Client().get(url).status_code == 404


def test_post_to_a_signed_url_is_405(owner, model):
    assert Client().post(signed_url(owner, model)).status_code == 405


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ('we"ird.bin', 'attachment; filename="we\\"ird.bin"'),
        ("line\r\nbreak.bin", 'attachment; filename="line__break.bin"'),
        ("../../etc/passwd", 'attachment; filename="_.._etc_passwd"'),
        ("modèle.bin", "attachment; filename*=utf-8''mod%C3%A8le.bin"),
    ],
)
def test_content_disposition_is_always_a_safe_attachment(model, name, expected):
    token = make_token(model.artifacts["adapter_config.json"], name, 60)
    response = Client().get(f"/downloads/{token}")
    assert response.status_code == 200
    assert response["Content-Disposition"] == expected


def test_expires_at_matches_the_signed_urls(owner, model, settings):
    frozen = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    with time_machine.travel(frozen, tick=False):
        data = grant(owner, model, {}).json()["data"]
    assert data["expires_at"] == "2026-03-01T13:00:00Z"
    url = data["download_urls"]["adapter_config.json"]
    with time_machine.travel(frozen + timedelta(seconds=settings.SIGNED_URL_TTL - 1), tick=False):
        assert Client().head(url).status_code == 200
    with time_machine.travel(frozen + timedelta(seconds=settings.SIGNED_URL_TTL + 1), tick=False):
        assert Client().head(url).status_code == 403
