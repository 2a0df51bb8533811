"""Storage counters through every path that changes what a user stores, each checked against a
recount from the rows: ingest, bundle ready and expiry, soft delete, restore, purge, admin delete
and account deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
import time_machine
from django.utils import timezone

from artifacts import tasks
from artifacts.models import ArtifactFile, Bundle, ModelArtifact, StorageUsage
from artifacts.models.usage import COUNTERS
from artifacts.services import bundles, lifecycle
from artifacts.services.ingest import ingest
from artifacts.services.usage import actual_counters, recount_storage
from tests.conftest import logged_in
from tests.factories import add_file, make_artifact
from tests.ingest_fakes import FILES, finished_job, serve

pytestmark = pytest.mark.django_db


def counted(user) -> dict[str, int]:
    row = StorageUsage.objects.filter(user=user).values(*COUNTERS).first()
    return row or dict.fromkeys(COUNTERS, 0)


def assert_counted_right(user, **expected: int) -> None:
    """The counters equal a fresh recount from the rows (and ``expected``, where given)."""
    actual = actual_counters([user.pk]).get(user.pk, dict.fromkeys(COUNTERS, 0))
    assert counted(user) == actual
    for name, value in expected.items():
        assert actual[name] == value, name
    assert recount_storage(user) == []


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, str]]:
    from pipeline.celery import app

    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(app.tasks["artifacts.tasks.build_bundle"], "delay", lambda *args: calls.append(args))
    return calls


@pytest.fixture
def ready(queued, django_capture_on_commit_callbacks):
    def build(model) -> Bundle:
        with django_capture_on_commit_callbacks(execute=True):
            tasks.request_bundle(model)
        assert bundles.build_bundle(*queued.pop())
        return Bundle.objects.get(artifact=model)

    return build


@pytest.fixture
def ingested(alice, settings):
    """A model ingested from the faked cluster: the real recording path, counters and all."""
    from tests.ingest_fakes import use_fake_cluster

    use_fake_cluster(settings)
    with responses.RequestsMock() as rsps:
        serve(rsps)
        assert ingest(finished_job(alice)).success
    return ModelArtifact.objects.get(user=alice)


def test_ingest_counts_the_model_and_its_files(alice, ingested):
    assert_counted_right(alice, model_count=1, file_count=len(FILES), file_bytes=sum(map(len, FILES.values())))
    assert lifecycle.storage_use(alice) == lifecycle.StorageUse(models=1, bytes=sum(map(len, FILES.values())))


def test_a_ready_bundle_counts_and_its_expiry_uncounts(alice, ingested, ready, settings):
    files = sum(map(len, FILES.values()))
    bundle = ready(ingested)
    assert bundle.size > files
    assert_counted_right(alice, bundle_bytes=bundle.size)
    assert lifecycle.storage_use(alice).bytes == files + bundle.size
    with time_machine.travel(timezone.now() + timedelta(days=settings.BUNDLE_TTL_DAYS + 1)):
        assert bundles.expire_bundles() == 1
    assert_counted_right(alice, bundle_bytes=0)
    assert lifecycle.storage_use(alice).bytes == files


def test_a_failed_build_counts_nothing(alice, ingested, queued, artifact_root, django_capture_on_commit_callbacks):
    (artifact_root / ingested.artifacts["tokenizer_config.json"]).write_bytes(b"changed")
    with django_capture_on_commit_callbacks(execute=True):
        tasks.request_bundle(ingested)
    assert not bundles.build_bundle(*queued.pop())
    assert_counted_right(alice, bundle_bytes=0)


def test_soft_delete_and_restore_keep_the_bytes(alice, ingested):
    before = counted(alice)
    assert lifecycle.soft_delete(ingested)
    assert_counted_right(alice)
    assert counted(alice) == before  # a deleted model still takes its space
    assert lifecycle.storage_use(alice).models == 0
    assert lifecycle.restore(ModelArtifact.objects.get(pk=ingested.pk))
    assert counted(alice) == before
    assert lifecycle.storage_use(alice).models == 1
    assert_counted_right(alice)


def test_purge_takes_the_model_its_files_and_its_bundle_off(alice, ingested, ready, settings):
    keep = make_artifact(alice)
    add_file(keep, "adapter_config.json", b"{}")
    ready(ingested)
    lifecycle.soft_delete(ingested)
    with time_machine.travel(timezone.now() + timedelta(days=settings.ARTIFACT_RETENTION_DAYS + 1)):
        assert lifecycle.purge_deleted() == 1
    assert_counted_right(alice, model_count=1, file_count=1, file_bytes=2, bundle_bytes=0)


def test_admin_delete_of_a_model_takes_it_off(alice, bob, charlie, ingested, ready):
    ready(ingested)
    other = make_artifact(bob)
    add_file(other, "a.bin", b"x" * 10)
    response = logged_in(charlie).post(f"/admin/artifacts/modelartifact/{ingested.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not ModelArtifact.objects.filter(pk=ingested.pk).exists()
    assert_counted_right(alice, model_count=0, file_count=0, file_bytes=0, bundle_bytes=0)
    assert_counted_right(bob, model_count=1, file_bytes=10)


def test_account_deletion_removes_the_counters_with_the_account(alice, bob, ingested, ready):
    ready(ingested)
    other = make_artifact(bob)
    add_file(other, "a.bin", b"x" * 10)
    alice.delete()
    assert not StorageUsage.objects.filter(user_id=ingested.user_id).exists()
    assert not ArtifactFile.objects.filter(artifact__user_id=ingested.user_id).exists()
    assert_counted_right(bob, model_count=1, file_count=1, file_bytes=10)
    assert recount_storage() == []


def test_account_without_a_counter_row_can_still_be_deleted(alice, ingested):
    StorageUsage.objects.filter(user=alice).delete()  # drifted: no row at all
    alice.delete()
    assert not StorageUsage.objects.exists()
