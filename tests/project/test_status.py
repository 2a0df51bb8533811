import pytest
import time_machine
from django.test import Client

from tests.conftest import use_storage


@pytest.mark.django_db
def test_status_reports_every_check_healthy():
    response = Client().get("/status")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "broker": True,
        "storage": True,
    }


@pytest.mark.django_db
def test_status_is_503_when_the_broker_is_unreachable(monkeypatch):
    # Celery reads this variable on every access and prefers it to its config; monkeypatch
    # restores it afterwards (patching app.conf itself would leak into later tests).
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:9/0")
    response = Client().get("/status")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_status_is_503_when_storage_cannot_be_written(settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage root should be")
    use_storage(settings, "artifacts.storage.local.LocalArtifactStorage", location=str(blocker))
    response = Client().get("/status")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"]["ok"] is False


@pytest.mark.django_db
def test_storage_probe_writes_at_most_every_ten_seconds(monkeypatch):
    from artifacts.storage.local import LocalArtifactStorage

    writes = []
    original = LocalArtifactStorage.save_stream

    def counting(self, key, chunks):
        writes.append(key)
        return original(self, key, chunks)

    monkeypatch.setattr(LocalArtifactStorage, "save_stream", counting)
    client = Client()
    with time_machine.travel("2026-11-26 12:00Z", tick=False) as traveller:
        assert client.get("/status").status_code == 200
        assert client.get("/status").status_code == 200
        assert len(writes) == 1
        traveller.shift(11)
        assert client.get("/status").status_code == 200
    assert len(writes) == 2
