"""Ingest against real HTTP: the cluster simulator over loopback, PostgreSQL races, S3 via moto's server."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from django.db import connection
from safetensors import safe_open

from artifacts.models import ArtifactFile, ArtifactIngest, ModelArtifact
from artifacts.services.ingest import ingest, ingest_due_jobs
from pipeline.models import Notification
from pipeline.simulator.files import AdapterSpec
from pipeline.simulator.server import SimulatorConfig
from tests.conftest import ingest_from, needs_service, on_postgres, simulator_running, use_storage
from tests.factories import add_history, make_dataset, make_job

KEY = "e2e-cluster-key"


@pytest.fixture
def simulator(tmp_path, settings):
    config = SimulatorConfig(
        api_key=KEY, cache_root=tmp_path / "sim", spec=AdapterSpec(rank=8, adapter_bytes=2 * 1024 * 1024)
    )
    with simulator_running(config) as server:
        ingest_from(settings, server, KEY)
        yield server


def stored(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.django_db
def test_real_peft_files_are_ingested_byte_exact(simulator, alice, artifact_root):
    job = make_job(alice, make_dataset(alice), external_job_id="sim-e2e-good")
    add_history(job, [(2.0, None), (0.8, 0.9)])
    result = ingest(job)
    assert result.success, result.error
    artifact = ModelArtifact.objects.get(job=job)
    advertised = simulator.manifest("sim-e2e-good").files
    rows = {row.filename: row for row in ArtifactFile.objects.filter(artifact=artifact)}
    assert set(rows) == set(advertised)
    for name, generated in advertised.items():
        path = artifact_root / rows[name].key
        assert path.stat().st_size == generated.size == rows[name].size
        assert hashlib.sha256(path.read_bytes()).hexdigest() == generated.sha256 == rows[name].sha256
    with safe_open(str(artifact_root / rows["adapter_model.safetensors"].key), framework="numpy") as tensors:
        # Mistral-7B's v_proj projects to 8 key/value heads x 128 = 1024 features
        assert tensors.get_tensor("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight").shape == (1024, 8)
    assert not [p for p in stored(artifact_root) if p.name.endswith(".part")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("external_id", "message"),
    [
        ("sim-e2e-truncated", "truncated body"),
        ("sim-e2e-corrupt", "checksum mismatch"),
        ("sim-e2e-missing-file", "HTTP 404"),
        ("sim-e2e-badjson", "not JSON"),
        ("sim-e2e-traversal", "path separator"),
    ],
)
def test_broken_cluster_files_leave_nothing_behind(simulator, alice, artifact_root, external_id, message):
    job = make_job(alice, external_job_id=external_id)
    result = ingest(job)
    assert not result.success and message in result.error
    assert stored(artifact_root) == []
    assert not ModelArtifact.objects.exists()
    assert message in ArtifactIngest.objects.get(job=job).last_error


@pytest.mark.django_db
def test_flaky_files_succeed_after_in_attempt_retries(simulator, alice, no_retry_sleep):
    job = make_job(alice, external_job_id="sim-e2e-flaky")
    assert ingest(job).success
    assert len(no_retry_sleep) == 2 * 6  # each of six files answered 503 twice
    assert ArtifactIngest.objects.get(job=job).attempts == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_on_postgres_give_one_artifact_and_one_notification_per_job(simulator, alice, artifact_root):
    if not on_postgres():
        needs_service("DATABASE_URL does not point at PostgreSQL")
    jobs = [make_job(alice, external_job_id=f"sim-e2e-race-{i}") for i in range(4)]
    barrier = threading.Barrier(3)
    outcomes: list[object] = []

    def sweep() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.extend(ingest_due_jobs())
        except Exception as exc:  # surfaced by the assertion below
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [o for o in outcomes if isinstance(o, Exception)]
    successes = [o for o in outcomes if o.success]
    assert len(successes) == len(jobs)
    for job in jobs:
        assert ArtifactIngest.objects.get(job=job).attempts == 1  # no claim was won twice
        assert ModelArtifact.objects.filter(job=job).count() == 1
        assert Notification.objects.filter(type="artifact_ready", metadata__job_id=str(job.id)).count() == 1
    keys = {row.key for row in ArtifactFile.objects.all()}
    assert {str(p.relative_to(artifact_root)) for p in stored(artifact_root)} == keys


@pytest.mark.django_db
def test_ingest_streams_into_s3_and_presigned_urls_download(simulator, alice, s3_storage):
    import requests

    from artifacts.storage.seam import artifact_storage

    job = make_job(alice, external_job_id="sim-e2e-s3")
    result = ingest(job)
    assert result.success, result.error
    artifact = ModelArtifact.objects.get(job=job)
    objects = s3_storage.list_objects_v2(Bucket=s3_storage.bucket)["Contents"]
    assert sorted(o["Key"] for o in objects) == sorted(artifact.artifacts.values())
    adapter = ArtifactFile.objects.get(artifact=artifact, filename="adapter_model.safetensors")
    url = artifact_storage().signed_url(adapter.key, adapter.filename, 600)
    response = requests.get(url, timeout=30)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == adapter.sha256
    assert 'filename="adapter_model.safetensors"' in response.headers["Content-Disposition"]


@pytest.mark.django_db
def test_failed_s3_ingest_removes_uploaded_objects(simulator, alice, s3_storage):
    job = make_job(alice, external_job_id="sim-e2e-missing-file")
    assert not ingest(job).success
    assert s3_storage.list_objects_v2(Bucket=s3_storage.bucket).get("KeyCount") == 0


@pytest.mark.django_db
def test_presigned_urls_use_the_public_endpoint_when_set(simulator, alice, s3_storage, settings):
    import requests

    from artifacts.storage.seam import artifact_storage

    options = settings.STORAGES["artifacts"]["OPTIONS"]
    internal = options["endpoint_url"]
    public = internal.replace("127.0.0.1", "localhost")  # the same server under the name clients use
    use_storage(settings, settings.STORAGES["artifacts"]["BACKEND"], **options, public_endpoint_url=public)
    job = make_job(alice, external_job_id="sim-e2e-public")
    assert ingest(job).success
    adapter = ArtifactFile.objects.get(artifact__job=job, filename="adapter_config.json")
    url = artifact_storage().signed_url(adapter.key, adapter.filename, 600)
    assert url.startswith(public + "/")
    response = requests.get(url, timeout=30)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == adapter.sha256
