from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}

# What the API answers for a model that does not exist, is deleted or is someone else's.
NOT_FOUND = {"error": "Model not found or access denied"}


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


def use_storage(settings, backend: str, **options) -> None:
    """Store artifacts with ``backend`` (a dotted class path) built with ``options``."""
    settings.STORAGES = {**settings.STORAGES, "artifacts": {"BACKEND": backend, "OPTIONS": options}}


@pytest.fixture(autouse=True)
def artifact_root(settings, tmp_path: Path) -> Path:
    """Every test gets its own local artifact storage root."""
    root = tmp_path / "storage"
    root.mkdir()
    settings.ARTIFACT_STORAGE_ROOT = root
    use_storage(settings, "artifacts.storage.local.LocalArtifactStorage", location=str(root))
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


@pytest.fixture
def fake_cluster(settings) -> None:
    """Ingest talks to the faked cluster of ``tests.ingest_fakes`` (mock its answers with ``serve``)."""
    from tests.ingest_fakes import use_fake_cluster

    use_fake_cluster(settings)


@pytest.fixture
def s3_storage(settings):
    """Artifacts are stored in a fresh bucket of moto's S3 server on a loopback port; yields a boto3
    client for that server, with the bucket's name as ``client.bucket``."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # a port no other test holds
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}
    bucket = f"lora-models-{uuid.uuid4().hex[:12]}"  # moto keeps its state per process: one bucket per test
    boto3.client("s3", endpoint_url=endpoint, **credentials).create_bucket(Bucket=bucket)
    use_storage(
        settings,
        "artifacts.storage.s3.S3ArtifactStorage",
        bucket_name=bucket,
        endpoint_url=endpoint,
        access_key="test",
        secret_key="test",
        region_name="us-east-1",
    )
    client = boto3.client("s3", endpoint_url=endpoint, **credentials)
    client.bucket = bucket
    yield client
    server.stop()


@contextmanager
def simulator_running(config) -> Iterator:
    """The cluster simulator (``pipeline.simulator``) serving ``config`` on a loopback port."""
    from pipeline.simulator.server import serve_in_thread

    server = serve_in_thread(config)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def ingest_from(settings, server, api_key: str) -> None:
    """Ingest fetches from the simulator ``server`` with ``api_key``."""
    settings.GPU_CLUSTER_API_URL = server.base_url
    settings.GPU_CLUSTER_API_KEY = api_key
    settings.GPU_CLUSTER_TIMEOUT = 10
