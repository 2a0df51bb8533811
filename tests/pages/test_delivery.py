"""The delivery and lifecycle pages: zip bundle (no-JS path), delete, recently deleted, restore,
storage use on the models list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from artifacts.models import Bundle, ModelArtifact
from artifacts.pages.delivery import DELETED_PER_PAGE
from artifacts.services import bundles, lifecycle
from tests.factories import add_file, make_artifact, make_ready_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(alice):
    artifact = make_artifact(alice, name="Support bot")
    add_file(artifact, "adapter_config.json", b'{"r": 8}')
    add_file(artifact, "adapter_model.safetensors", b"w" * 3000)
    return artifact


@pytest.fixture
def builds(monkeypatch) -> list[tuple]:
    from pipeline.celery import app

    queued: list[tuple] = []
    monkeypatch.setattr(app.tasks["artifacts.tasks.build_bundle"], "delay", lambda *args: queued.append(args))
    return queued


def test_model_page_links_checksums_card_zip_and_delete(alice_client, model):
    page = alice_client.get(f"/models/{model.id}").content.decode()
    assert f'href="/api/models/{model.id}/sha256sums"' in page
    assert f'href="/api/models/{model.id}/card"' in page
    assert f'action="/models/{model.id}/bundle"' in page and "Download all as .zip" in page
    assert f'href="/models/{model.id}/delete"' in page


def test_zip_without_javascript_refreshes_until_ready(alice_client, model, builds, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/models/{model.id}/bundle")
    assert response.status_code == 302 and response["Location"] == f"/models/{model.id}/bundle"
    assert len(builds) == 1
    waiting = alice_client.get(f"/models/{model.id}/bundle").content.decode()
    assert '<meta http-equiv="refresh"' in waiting and "Preparing the zip: 0%" in waiting
    assert bundles.build_bundle(*builds.pop())
    ready = alice_client.get(f"/models/{model.id}/bundle").content.decode()
    assert "http-equiv" not in ready
    bundle = Bundle.objects.get(artifact=model)
    assert bundle.sha256 in ready and "/downloads/" in ready
    link = ready.split('data-testid="bundle-link"')[0].rsplit('href="', 1)[1].split('"')[0]
    download = Client().get(link.replace("&amp;", "&"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"PK"


def test_delete_confirm_then_recently_deleted_then_restore(alice_client, model):
    confirm = alice_client.get(f"/models/{model.id}/delete")
    assert confirm.status_code == 200 and b"Delete model" in confirm.content
    assert ModelArtifact.objects.get(pk=model.pk).deleted_at is None  # GET deletes nothing
    response = alice_client.post(f"/models/{model.id}/delete", follow=True)
    assert response.redirect_chain[-1][0] == "/models"
    assert "Recently deleted" in response.content.decode()
    assert alice_client.get(f"/models/{model.id}").status_code == 404
    assert b"Support bot" not in alice_client.get("/models").content
    deleted = alice_client.get("/models/deleted").content.decode()
    assert "Support bot" in deleted and f'action="/models/{model.id}/restore"' in deleted
    restored = alice_client.post(f"/models/{model.id}/restore", follow=True)
    assert restored.redirect_chain[-1][0] == f"/models/{model.id}"
    assert alice_client.get(f"/models/{model.id}").status_code == 200
    assert "Support bot" not in alice_client.get("/models/deleted").content.decode()


def test_lifecycle_pages_hide_other_users_models(bob_client, model, builds):
    for path in ["bundle", "delete"]:
        assert bob_client.get(f"/models/{model.id}/{path}").status_code == 404
        assert bob_client.post(f"/models/{model.id}/{path}").status_code == 404
    lifecycle.soft_delete(model)
    assert bob_client.post(f"/models/{model.id}/restore").status_code == 404
    assert "Support bot" not in bob_client.get("/models/deleted").content.decode()
    assert ModelArtifact.objects.get(pk=model.pk).deleted_at is not None
    assert not builds and not Bundle.objects.exists()
    assert Client().get("/models/deleted").status_code == 302


def test_models_list_shows_storage_use(alice_client, alice, model):
    other = make_artifact(alice)
    add_file(other, "a.bin", b"x" * 1000)
    make_ready_bundle(other, 2000)
    gone = make_artifact(alice)
    lifecycle.soft_delete(gone)
    head = alice_client.get("/models").content.decode().split('data-testid="model-count">')[1].split("</p>")[0]
    total = 8 + 3000 + 1000 + 2000
    assert "<strong>2</strong> models total" in head
    assert head.split('data-testid="storage-use">')[1].startswith(f" · {total / 1024:.1f}\xa0KiB stored")


def _size_sums(client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/models").status_code == 200
    return sum("SUM(" in q["sql"] for q in queries.captured_queries)


def test_storage_use_is_read_from_the_counters_and_always_current(alice_client, alice, model):
    def stored() -> str:
        page = alice_client.get("/models").content.decode()
        return page.split('data-testid="storage-use">')[1].split("</span>")[0]

    assert _size_sums(alice_client) == 0  # no file row is summed to draw the page
    assert stored() == f" · {(8 + 3000) / 1024:.1f}\xa0KiB stored"
    add_file(model, "more.bin", b"y" * 3000)
    assert stored() == f" · {(8 + 6000) / 1024:.1f}\xa0KiB stored"  # at once, not minutes later
    assert "(as of" not in alice_client.get("/models").content.decode()


def test_recently_deleted_pages_its_models_with_a_constant_query_count(
    alice, alice_client, django_assert_max_num_queries
):
    now = timezone.now()
    for n in range(DELETED_PER_PAGE + 3):
        make_artifact(alice, name=f"gone-{n:03d}", deleted_at=now - timedelta(minutes=n))
    with django_assert_max_num_queries(8):
        first = alice_client.get("/models/deleted").content.decode()
    assert first.count('data-testid="deleted-model"') == DELETED_PER_PAGE
    assert "gone-000" in first and "Page 1 of 2" in first
    second = alice_client.get("/models/deleted?page=2").content.decode()
    assert second.count('data-testid="deleted-model"') == 3 and f"gone-{DELETED_PER_PAGE + 2:03d}" in second
