from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


def needs_service(reason: str) -> None:
    """Skip a test whose service is not configured, unless CI demands the services (then fail)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES is set but {reason}")
    pytest.skip(reason)


def on_postgres() -> bool:
    return django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def redis_url() -> str | None:
    url = django_settings.CELERY_BROKER_URL
    return url if url.startswith("redis://") else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def artifact_root(settings, tmp_path: Path) -> Path:
    """Every test gets its own local artifact storage root."""
    root = tmp_path / "storage"
    root.mkdir()
    settings.ARTIFACT_STORAGE_ROOT = root
    storages = {**settings.STORAGES}
    storages["artifacts"] = {
        "BACKEND": "artifacts.storage.local.LocalArtifactStorage",
        "OPTIONS": {"location": str(root)},
    }
    settings.STORAGES = storages
    settings.SITE_URL = "http://testserver"
    return root


@pytest.fixture(autouse=True)
def private_cache(settings) -> None:
    """Every test gets its own empty cache: throttle counters and cached adapter configs never leak
    in from another test, another xdist worker or an earlier run's ``var/cache``."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "alice-password-1")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "bob-password-1")


def logged_in(user) -> Client:
    """A test client with a session for ``user`` (browser-style auth, CSRF checks off)."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    return logged_in(alice)


@pytest.fixture
def bob_client(bob) -> Client:
    return logged_in(bob)


@pytest.fixture
def charlie(django_user_model):
    return django_user_model.objects.create_user(
        "charlie", "charlie@example.com", "charlie-password-1", is_staff=True, is_superuser=True
    )


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> list[dict]:
    """Tasks queued by the code under test are recorded here instead of going to a broker."""
    import artifacts.tasks  # noqa: F401  (registers the task)
    from pipeline.celery import app

    ingest_job = app.tasks["artifacts.tasks.ingest_job"]  # the task itself, not the shared_task proxy
    sent: list[dict] = []

    def record(args=None, kwargs=None, **options):
        sent.append({"task": ingest_job.name, "args": list(args or []), "options": options})

    monkeypatch.setattr(ingest_job, "apply_async", record)
    return sent


@pytest.fixture(autouse=True)
def no_retry_sleep(monkeypatch):
    """In-attempt retries of the cluster client happen at once in tests (no real waiting)."""
    from artifacts.cluster import ClusterClient

    waits: list[float] = []
    monkeypatch.setattr(ClusterClient, "sleep", staticmethod(waits.append))
    return waits
