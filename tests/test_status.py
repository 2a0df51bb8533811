import pytest
from django.test import Client


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
    from pipeline.celery import app

    unreachable = "redis://127.0.0.1:9/0"
    monkeypatch.setenv("CELERY_BROKER_URL", unreachable)  # Celery prefers this variable to its config
    monkeypatch.setattr(app.conf, "broker_url", unreachable)
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
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {"BACKEND": "artifacts.storage.LocalArtifactStorage", "OPTIONS": {"location": str(blocker)}},
    }
    response = Client().get("/status")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"]["ok"] is False
