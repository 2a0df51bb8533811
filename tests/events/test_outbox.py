"""The outbox (DESIGN §16): each change writes exactly one event in its own transaction — ingest
success and failure, soft delete and restore — even when workers race on the same change."""

from __future__ import annotations

import threading

import pytest
import responses
from django.db import connection, transaction

from artifacts.models import ModelArtifact
from artifacts.services import lifecycle, model_events, registry
from artifacts.services.ingest import ingest, ingest_due_jobs
from events.models import ALIAS_MOVED, ARTIFACT_READY, Delivery, Event
from events.services import endpoints
from events.services.publish import publish
from pipeline.simulator.files import AdapterSpec
from pipeline.simulator.server import SimulatorConfig
from tests.conftest import ingest_from, needs_service, on_postgres, simulator_running
from tests.factories import make_artifact, make_job
from tests.ingest_fakes import API, finished_job, serve, use_fake_cluster

KEY = "outbox-cluster-key"


@pytest.mark.django_db
def test_an_event_rolled_back_with_its_change_is_never_sent(alice, receiver):
    endpoints.create_endpoint(alice, url=receiver.url)
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(alice.pk, ARTIFACT_READY, {"id": "m"})
        raise RuntimeError("the change failed")
    assert not Event.objects.exists() and not Delivery.objects.exists()


@pytest.mark.django_db
@responses.activate
def test_ingest_success_publishes_one_artifact_ready_with_the_model(alice, receiver, settings):
    use_fake_cluster(settings)
    endpoints.create_endpoint(alice, url=receiver.url)
    job = finished_job(alice)
    serve(responses)
    assert ingest(job).success
    assert not ingest(job).success  # a second run for the same job changes nothing

    artifact = ModelArtifact.objects.get(job=job)
    [event] = Event.objects.filter(type="artifact.ready")
    assert event.owner_id == alice.pk
    data = event.payload["data"]
    assert data["id"] == str(artifact.pk) and data["name"] == artifact.name
    assert data["verdict"] == artifact.verdict and data["score"] == artifact.quality_score
    assert data["links"]["page"] == f"http://testserver/models/{artifact.pk}"
    assert data["repository"] == f"{alice.username}/{artifact.repository.name}" and data["commit"] == artifact.commit
    assert event.deliveries.count() == 1


@pytest.mark.django_db
@responses.activate
def test_ingest_giving_up_publishes_artifact_failed(alice, receiver, settings):
    use_fake_cluster(settings)
    settings.ARTIFACT_MAX_ATTEMPTS = 1
    endpoints.create_endpoint(alice, url=receiver.url)
    job = finished_job(alice)
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", status=500)
    assert not ingest(job).success
    [event] = Event.objects.filter(type="artifact.failed")
    assert event.payload["data"]["job_id"] == str(job.pk)
    assert event.payload["data"]["links"]["job"] == f"http://testserver/training/jobs/{job.pk}"
    assert not Event.objects.filter(type="artifact.ready").exists()


@pytest.mark.django_db
def test_soft_delete_and_restore_each_publish_once(alice, receiver):
    endpoints.create_endpoint(alice, url=receiver.url)
    artifact = make_artifact(alice)
    assert lifecycle.soft_delete(artifact)
    assert not lifecycle.soft_delete(artifact)  # already deleted: no second event
    artifact.refresh_from_db()
    assert lifecycle.restore(artifact)
    types = list(
        Event.objects.filter(type__startswith="artifact.").order_by("created_at").values_list("type", flat=True)
    )
    assert types == ["artifact.deleted", "artifact.restored"]
    assert Delivery.objects.filter(event__type__startswith="artifact.").count() == 2


@pytest.mark.django_db
def test_moving_an_alias_publishes_alias_moved_with_the_commits(alice, receiver):
    older = make_artifact(alice)
    newer = make_artifact(alice, repository=older.repository)
    endpoints.create_endpoint(alice, url=receiver.url)
    registry.move_alias(alice, older.repository, "production", newer)
    registry.move_alias(alice, older.repository, "production", older)
    moves = [e.payload["data"] for e in Event.objects.filter(type=ALIAS_MOVED).order_by("created_at")]
    repo = f"{alice.username}/{older.repository.name}"
    assert [(m["repository"], m["alias"], m["from"], m["to"]) for m in moves] == [
        (repo, "production", None, newer.commit),
        (repo, "production", newer.commit, older.commit),
    ]
    assert moves[-1]["links"]["model"] == f"http://testserver/models/{older.pk}"


@pytest.mark.django_db
def test_alias_moved_carries_repository_alias_from_and_to(alice, receiver):
    endpoints.create_endpoint(alice, url=receiver.url)
    model_events.alias_moved(
        alice.pk, repository="alice/chat-lora", alias="production", from_commit="a" * 40, to_commit="b" * 40
    )
    [event] = Event.objects.filter(type=ALIAS_MOVED)
    assert event.payload["data"] | {"links": None, "model_id": None} == {
        "repository": "alice/chat-lora",
        "alias": "production",
        "from": "a" * 40,
        "to": "b" * 40,
        "links": None,
        "model_id": None,
    }


@pytest.mark.django_db
def test_events_go_only_to_the_owners_endpoints(alice, bob, receiver):
    endpoints.create_endpoint(alice, url=receiver.at("/alice"))
    endpoints.create_endpoint(bob, url=receiver.at("/bob"))
    lifecycle.soft_delete(make_artifact(alice))
    assert [d.endpoint.url for d in Delivery.objects.select_related("endpoint")] == [receiver.at("/alice")]


def _race(target, count: int) -> list[object]:
    barrier = threading.Barrier(count)
    results: list[object] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except Exception as exc:  # surfaced by the caller's assertion
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_ingests_write_exactly_one_event_per_model(alice, receiver, tmp_path, settings):
    """Three sweeps race over four finished jobs: four models, four ``artifact.ready`` rows, one
    delivery each (PostgreSQL: SQLite's test database locks whole tables instead of waiting)."""
    if not on_postgres():
        needs_service("DATABASE_URL does not point at PostgreSQL")
    endpoints.create_endpoint(alice, url=receiver.url)
    config = SimulatorConfig(
        api_key=KEY, cache_root=tmp_path / "sim", spec=AdapterSpec(rank=4, adapter_bytes=64 * 1024)
    )
    with simulator_running(config) as server:
        ingest_from(settings, server, KEY)
        jobs = [make_job(alice, external_job_id=f"sim-outbox-{i}") for i in range(4)]
        results = _race(ingest_due_jobs, 3)
    assert not [r for r in results if isinstance(r, Exception)], results
    artifacts = ModelArtifact.objects.filter(job__in=jobs)
    assert artifacts.count() == 4
    ready = Event.objects.filter(type="artifact.ready")
    assert sorted(e.payload["data"]["id"] for e in ready) == sorted(str(a.pk) for a in artifacts)
    assert Delivery.objects.filter(event__type="artifact.ready").count() == 4


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_deletes_write_one_event(alice, receiver):
    if not on_postgres():
        needs_service("DATABASE_URL does not point at PostgreSQL")
    endpoints.create_endpoint(alice, url=receiver.url)
    artifact = make_artifact(alice)
    results = _race(lambda: lifecycle.soft_delete(ModelArtifact.objects.get(pk=artifact.pk)), 4)
    assert sorted(map(str, results)) == ["False", "False", "False", "True"]
    assert Event.objects.filter(type="artifact.deleted").count() == 1
