"""Delete, recently deleted, restore and purge after ``ARTIFACT_RETENTION_DAYS`` (API and service)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from artifacts import tasks
from artifacts.models import ArtifactFile, Bundle, DownloadGrant, ModelArtifact
from artifacts.services import bundles, lifecycle
from artifacts.services.ingest.selection import awaiting_jobs
from artifacts.storage.local import LocalArtifactStorage
from tests.conftest import NOT_FOUND
from tests.delivery.grants import signed_url
from tests.factories import add_file, make_artifact

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(alice):
    artifact = make_artifact(alice)
    add_file(artifact, "adapter_config.json", b'{"r": 8}')
    add_file(artifact, "adapter_model.safetensors", b"weights" * 1000)
    return artifact


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [m["id"] for m in response.json()["data"]["models"]]


def test_delete_hides_then_restore_shows_again(alice_client, model):
    url = signed_url(alice_client, model)
    response = alice_client.delete(f"/api/models/{model.id}")
    assert response.status_code == 204
    assert alice_client.get(f"/api/models/{model.id}").status_code == 404
    assert alice_client.get(f"/api/models/{model.id}").json() == NOT_FOUND
    assert alice_client.get(f"/models/{model.id}").status_code == 404
    assert ids(alice_client.get("/api/models")) == []
    assert Client().get(url).status_code == 404  # its links stop working at once
    assert ids(alice_client.get("/api/models?deleted=true")) == [str(model.id)]
    assert alice_client.delete(f"/api/models/{model.id}").status_code == 404  # already deleted

    restored = alice_client.post(f"/api/models/{model.id}/restore")
    assert restored.status_code == 200
    assert restored.json() == {"success": True, "data": {"id": str(model.id), "restored": True}}
    assert alice_client.get(f"/api/models/{model.id}").status_code == 200
    assert ids(alice_client.get("/api/models")) == [str(model.id)]
    assert ids(alice_client.get("/api/models?deleted=true")) == []
    assert Client().get(url).status_code == 200


def test_deleted_list_is_paginated_newest_deletion_first_and_validates(alice_client, alice, bob):
    first, second = make_artifact(alice), make_artifact(alice)
    make_artifact(bob, deleted_at=timezone.now())  # someone else's
    lifecycle.soft_delete(first)
    lifecycle.soft_delete(second)
    body = alice_client.get("/api/models?deleted=true&limit=1").json()["data"]
    assert [m["id"] for m in body["models"]] == [str(second.id)]
    assert body["pagination"] == {"page": 1, "limit": 1, "total": 2, "totalPages": 2}
    bad = alice_client.get("/api/models?deleted=maybe")
    assert bad.status_code == 400 and "deleted" in bad.json()["details"]
    assert ids(alice_client.get("/api/models?deleted=false")) == []


def test_restore_after_retention_is_gone(alice_client, alice, model, settings):
    settings.ARTIFACT_RETENTION_DAYS = 30
    lifecycle.soft_delete(model)
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        alice_client.force_login(alice)  # a month later: a fresh session
        assert ids(alice_client.get("/api/models?deleted=true")) == []
        response = alice_client.post(f"/api/models/{model.id}/restore")
        assert response.status_code == 410
        assert "no longer be restored" in response.json()["error"]
    assert ModelArtifact.objects.get(pk=model.pk).deleted_at is not None


def test_restore_of_a_live_model_changes_nothing(alice_client, model):
    response = alice_client.post(f"/api/models/{model.id}/restore")
    assert response.status_code == 200
    assert ModelArtifact.objects.get(pk=model.pk).deleted_at is None


def test_lifecycle_endpoints_hide_other_users_models(bob_client, model):
    assert bob_client.delete(f"/api/models/{model.id}").status_code == 404
    assert ModelArtifact.objects.get(pk=model.pk).deleted_at is None
    lifecycle.soft_delete(model)
    assert bob_client.post(f"/api/models/{model.id}/restore").json() == NOT_FOUND
    assert ids(bob_client.get("/api/models?deleted=true")) == []
    assert ModelArtifact.objects.get(pk=model.pk).deleted_at is not None
    assert bob_client.post("/api/models/not-a-uuid/restore").status_code == 404
    assert Client().delete(f"/api/models/{model.id}").status_code == 401


def test_purge_after_retention_removes_objects_then_rows(
    alice_client, model, artifact_root, settings, caplog, post_bundle_ready, monkeypatch
):
    settings.ARTIFACT_RETENTION_DAYS = 30
    bundle = post_bundle_ready(model)
    file_url = signed_url(alice_client, model)
    keep = make_artifact(model.user)
    add_file(keep, "adapter_config.json", b"{}")
    recent = make_artifact(model.user)
    add_file(recent, "adapter_config.json", b"{}")
    prefix = artifact_root / str(model.user_id) / str(model.id)
    assert (artifact_root / bundle.key).exists() and prefix.is_dir()

    lifecycle.soft_delete(model)
    with time_machine.travel(timezone.now() + timedelta(days=29)):
        assert lifecycle.purge_deleted() == 0
        lifecycle.soft_delete(recent)
    assert prefix.is_dir()

    order: list[str] = []
    original = LocalArtifactStorage.clear_prefix

    def clear(self, key_prefix):
        order.append(f"clear {key_prefix} rows={ModelArtifact.objects.filter(pk=model.pk).exists()}")
        return original(self, key_prefix)

    monkeypatch.setattr(LocalArtifactStorage, "clear_prefix", clear)
    with time_machine.travel(timezone.now() + timedelta(days=31)), caplog.at_level(logging.INFO):
        assert lifecycle.purge_deleted() == 1
        assert lifecycle.purge_deleted() == 0  # idempotent
    assert order == [f"clear {model.user_id}/{model.id}/ rows=True"]  # objects first, rows after
    assert f"purged artifact {model.id}" in caplog.text
    assert not prefix.exists()
    assert not ModelArtifact.objects.filter(pk=model.pk).exists()
    assert not ArtifactFile.objects.filter(artifact_id=model.pk).exists()
    assert not Bundle.objects.filter(artifact_id=model.pk).exists()
    assert not DownloadGrant.objects.filter(artifact_id=model.pk).exists()
    assert Client().get(file_url).status_code == 404
    assert alice_client.post(f"/api/models/{model.id}/restore").status_code == 404
    # The others are untouched; the purged job is not ingested again.
    assert (artifact_root / keep.artifacts["adapter_config.json"]).exists()
    assert (artifact_root / recent.artifacts["adapter_config.json"]).exists()
    assert ModelArtifact.objects.filter(pk__in=[keep.pk, recent.pk]).count() == 2
    assert not awaiting_jobs().filter(pk=model.job_id).exists()


def test_purge_keeps_rows_when_storage_fails(model, settings, monkeypatch):
    settings.ARTIFACT_RETENTION_DAYS = 1
    lifecycle.soft_delete(model)

    def broken(self, prefix):
        raise OSError("storage down")

    monkeypatch.setattr(LocalArtifactStorage, "clear_prefix", broken)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert lifecycle.purge_deleted() == 0
    assert ModelArtifact.objects.filter(pk=model.pk).exists()


def test_storage_use_is_one_query_of_the_counters(alice, model, post_bundle_ready, django_assert_num_queries):
    other = make_artifact(alice)
    add_file(other, "a.bin", b"x" * 500)
    ready = post_bundle_ready(other)
    Bundle.objects.create(artifact=model, state=Bundle.State.PREPARING, size=None)
    with django_assert_num_queries(1):
        use = lifecycle.storage_use(alice)
    assert use.models == 2
    assert use.bytes == sum(f.size for f in ArtifactFile.objects.filter(artifact__user=alice)) + ready.size
    lifecycle.soft_delete(other)  # a deleted model still takes its space until it is purged
    assert lifecycle.storage_use(alice) == lifecycle.StorageUse(models=1, bytes=use.bytes)


@pytest.fixture
def post_bundle_ready(monkeypatch, django_capture_on_commit_callbacks):
    from pipeline.celery import app

    queued: list[tuple[str, str]] = []
    monkeypatch.setattr(app.tasks["artifacts.tasks.build_bundle"], "delay", lambda *args: queued.append(args))

    def ready(model) -> Bundle:
        with django_capture_on_commit_callbacks(execute=True):
            tasks.request_bundle(model)
        assert bundles.build_bundle(*queued.pop())
        return Bundle.objects.get(artifact=model)

    return ready


def test_beat_runs_bundle_expiry_and_purge_from_settings():
    from django.conf import settings

    import artifacts.tasks  # noqa: F401  (registers the tasks)
    from pipeline.celery import app

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"artifacts.tasks.expire_bundles", "artifacts.tasks.purge_deleted_models"} <= tasks
    assert tasks <= set(app.tasks)


def test_purge_task_runs_the_purge(model, settings):
    from artifacts.tasks import purge_deleted_models

    settings.ARTIFACT_RETENTION_DAYS = 1
    lifecycle.soft_delete(model)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert purge_deleted_models() == 1
    assert not ModelArtifact.objects.filter(pk=model.pk).exists()


def test_delivery_settings_come_from_the_environment():
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pipeline.settings",
        "BUNDLE_TTL_DAYS": "3",
        "ARTIFACT_RETENTION_DAYS": "9",
        "ARTIFACT_PURGE_CRON": "0 4 * * *",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.BUNDLE_TTL_DAYS, s.ARTIFACT_RETENTION_DAYS, "
        "s.CELERY_BEAT_SCHEDULE['artifact-purge']['schedule'].hour)"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "9", "{4}"]
    bad = subprocess.run(
        [sys.executable, "-c", code], env={**env, "BUNDLE_TTL_DAYS": "0"}, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode != 0 and "BUNDLE_TTL_DAYS" in bad.stderr


def test_purge_command_runs_the_same_purge_and_expiry(model, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.ARTIFACT_RETENTION_DAYS = 1
    lifecycle.soft_delete(model)
    out = StringIO()
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        call_command("purge_deleted_models", stdout=out)
    assert out.getvalue().strip() == "Purged 1 deleted model(s); removed 0 unused bundle(s)."
    assert not ModelArtifact.objects.filter(pk=model.pk).exists()
