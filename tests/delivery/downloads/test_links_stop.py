"""Links that stop: every download link handed out (API, pages, bundles, the Hub endpoint's
redirects) is ours (``/downloads/<token>``), checked on each
request, so a soft-deleted model's links stop at once on local storage, S3 and Supabase alike; on the
remote backends the link redirects to a URL minted for that request (60 s), and Range resumes through it."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from artifacts.models import Bundle
from artifacts.services.lifecycle import restore, soft_delete
from artifacts.storage.seam import artifact_storage
from tests.conftest import use_storage
from tests.delivery.downloads.conftest import CONFIG, WEIGHTS
from tests.delivery.grants import grant
from tests.factories import add_file, make_artifact
from tests.storage.supabase_fake import FakeSupabaseStorage

pytestmark = pytest.mark.django_db

GONE = "This file is no longer available."


def local_get(link, headers):
    return link.status_code, b"".join(link.streaming_content) if link.streaming else link.content


@pytest.fixture(params=["local", "s3", "supabase"])
def backend(request, settings):
    """Each backend, and how a download tool follows our link's redirect to it: ``(status, body)``."""
    if request.param == "local":
        return "local", local_get
    if request.param == "s3":
        request.getfixturevalue("s3_storage")

        def s3_get(link, headers):
            answer = requests.get(link["Location"], headers=headers, timeout=30)
            return answer.status_code, answer.content

        return "s3", s3_get
    server = FakeSupabaseStorage()
    use_storage(
        settings,
        "artifacts.storage.supabase.SupabaseArtifactStorage",
        url="https://project.supabase.test",
        key="service-key",
        http_client=server.client(),
    )

    def supabase_get(link, headers):
        answer = server.client().get(link["Location"], headers=headers)
        return answer.status_code, answer.content

    return server, supabase_get


@pytest.fixture
def stored(alice, backend):
    artifact = make_artifact(alice)
    add_file(artifact, "adapter_config.json", CONFIG)
    add_file(artifact, "adapter_model.safetensors", WEIGHTS)
    return artifact


def follow(url: str, backend, **headers: str):
    """``(status, body, the link's own response)`` for one GET of our link, redirect followed."""
    _, get = backend
    link = Client().get(url, headers=headers)
    if link.status_code != 302:
        return link.status_code, b"".join(link.streaming_content) if link.streaming else link.content, link
    status, body = get(link, headers)
    return status, body, link


def link_for(client, model, name="adapter_model.safetensors") -> str:
    response = grant(client, model, {"files": [name]})
    assert response.status_code == 200, response.content
    url = response.json()["data"]["download_urls"][name]
    assert url.startswith("http://testserver/downloads/")  # ours on every backend
    return url


def test_a_link_stops_after_soft_delete_and_works_again_after_restore(alice_client, stored, backend):
    url = link_for(alice_client, stored)
    status, body, _ = follow(url, backend)
    assert (status, body) == (200, WEIGHTS)

    soft_delete(stored)
    for method in ("get", "head"):
        refused = getattr(Client(), method)(url)
        assert refused.status_code == 404
        assert "Location" not in refused
    refused = Client().get(url)
    assert refused["Content-Type"].startswith("text/plain")
    assert refused.content.decode().strip() == GONE

    stored.refresh_from_db()
    restore(stored)
    status, body, _ = follow(url, backend)
    assert (status, body) == (200, WEIGHTS)


def test_a_link_from_the_hub_endpoint_stops_after_soft_delete_too(alice_client, stored, backend):
    """``snapshot_download`` follows the resolve's redirect: what it is redirected to is our link."""
    repository = stored.repository
    resolve = f"/hub/{repository.user.username}/{repository.name}/resolve/{stored.commit}/adapter_model.safetensors"
    redirect = alice_client.get(resolve)
    assert redirect.status_code == 302
    url = redirect["Location"]
    assert url.startswith("http://testserver/downloads/")
    status, body, _ = follow(url, backend, Range="bytes=7-")
    assert (status, body) == (206, WEIGHTS[7:])

    soft_delete(stored)
    assert Client().get(url).status_code == 404
    assert Client().get(url).content.decode().strip() == GONE
    assert alice_client.get(resolve).status_code == 404  # and the repository no longer resolves it


@pytest.mark.parametrize("start", [1, 500, len(WEIGHTS) - 1])
def test_range_resumes_through_the_link_with_the_right_bytes(alice_client, stored, backend, start):
    url = link_for(alice_client, stored)
    status, body, link = follow(url, backend, Range=f"bytes={start}-")
    assert status == 206
    assert body == WEIGHTS[start:]
    if link.status_code == 302:
        assert "no-store" in link["Cache-Control"]


def test_each_request_mints_a_backend_url_valid_60_seconds(alice_client, stored, backend):
    url = link_for(alice_client, stored)
    first = Client().get(url)
    second = Client().get(url)
    if backend[0] == "local":  # served here, no backend URL
        assert first.status_code == second.status_code == 200
        return
    assert first.status_code == second.status_code == 302
    location = first["Location"]
    key = stored.artifacts["adapter_model.safetensors"]
    if backend[0] == "s3":
        query = parse_qs(urlsplit(location).query)
        if "X-Amz-Expires" in query:  # signature version 4
            assert query["X-Amz-Expires"] == ["60"]
        else:  # version 2: the expiry as a Unix time
            assert abs(int(query["Expires"][0]) - time.time() - 60) < 5
    else:
        server = backend[0]
        assert server.signed == [(key, 60), (key, 60)]


def test_head_through_the_link_says_the_size_and_name(alice_client, stored, backend):
    url = link_for(alice_client, stored)
    head = Client().head(url)
    assert head.status_code == 200
    assert head["Content-Length"] == str(len(WEIGHTS))
    assert "adapter_model.safetensors" in head["Content-Disposition"]
    assert head["Accept-Ranges"] == "bytes"
    if backend[0] != "local":  # the bucket's GET sends its own ETag: HEAD must not promise another
        assert "ETag" not in head and "Location" not in head


def test_a_bundle_link_stops_after_delete(alice, alice_client, backend):
    artifact = make_artifact(alice)
    add_file(artifact, "adapter_config.json", CONFIG)
    key = f"{alice.pk}/{artifact.pk}/!bundles/0123456789abcdef/model.zip"
    zipped = b"PK\x03\x04" + WEIGHTS
    artifact_storage().save_stream(key, [zipped])
    Bundle.objects.create(
        artifact=artifact,
        state=Bundle.State.READY,
        key=key,
        filename="model.zip",
        size=len(zipped),
        sha256=hashlib.sha256(zipped).hexdigest(),
    )
    ready = alice_client.post(f"/api/models/{artifact.id}/bundle")
    assert ready.status_code == 200, ready.content
    url = ready.json()["data"]["download_url"]
    assert url.startswith("http://testserver/downloads/")
    status, body, _ = follow(url, backend, Range="bytes=4-")
    assert (status, body) == (206, WEIGHTS)

    soft_delete(artifact)
    assert Client().get(url).status_code == 404
    assert Client().get(url).content.decode().strip() == GONE


def test_a_bundle_that_is_no_longer_ready_stops_its_link(alice, alice_client, backend):
    artifact = make_artifact(alice)
    add_file(artifact, "adapter_config.json", CONFIG)
    key = f"{alice.pk}/{artifact.pk}/!bundles/fedcba9876543210/model.zip"
    artifact_storage().save_stream(key, [b"PK\x03\x04zip"])
    bundle = Bundle.objects.create(
        artifact=artifact, state=Bundle.State.READY, key=key, filename="model.zip", size=7, sha256="0" * 64
    )
    url = alice_client.post(f"/api/models/{artifact.id}/bundle").json()["data"]["download_url"]
    assert follow(url, backend)[0] == 200

    Bundle.objects.filter(pk=bundle.pk).update(state=Bundle.State.NEW)
    assert Client().get(url).status_code == 404
