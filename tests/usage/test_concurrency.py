"""Counters under concurrent writers on PostgreSQL: no increment is lost, no row is created twice,
and two bundle requests cannot both pass a limit."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from artifacts import tasks
from artifacts.models import Bundle, StorageUsage
from artifacts.services import bundles
from tests.conftest import needs_service, on_postgres
from tests.factories import add_file, make_artifact

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

THREADS = 4
ROUNDS = 50


@pytest.fixture(autouse=True)
def postgres():
    if not on_postgres():
        needs_service("DATABASE_URL does not point at PostgreSQL")


def in_threads(work: Callable[[int], None], count: int = THREADS) -> list[BaseException]:
    """Run ``work(i)`` in ``count`` threads, each with its own connection, started together."""
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # reported to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_increments_are_not_lost_and_the_row_is_made_once(alice):
    assert not StorageUsage.objects.filter(user=alice).exists()  # the first writers race to create it

    def ingest_many(i: int) -> None:
        for _ in range(ROUNDS):
            with transaction.atomic():
                StorageUsage.objects.add(alice.pk, model_count=1, file_count=3, file_bytes=1000 + i)

    assert in_threads(ingest_many) == []
    row = StorageUsage.objects.get(user=alice)
    assert row.model_count == THREADS * ROUNDS
    assert row.file_count == 3 * THREADS * ROUNDS
    assert row.file_bytes == sum((1000 + i) * ROUNDS for i in range(THREADS))
    assert row.stored_bytes == row.file_bytes


def test_two_bundle_requests_cannot_both_pass_the_concurrent_limit(alice, settings, monkeypatch):
    from pipeline.celery import app

    monkeypatch.setattr(app.tasks["artifacts.tasks.build_bundle"], "delay", lambda *args: None)
    settings.BUNDLE_MAX_CONCURRENT_PER_USER = 1
    models = [make_artifact(alice) for _ in range(THREADS)]
    for model in models:
        add_file(model, "adapter_config.json", b"{}")
    outcomes: list[str] = []

    def ask(i: int) -> None:
        try:
            outcomes.append(tasks.request_bundle(models[i]).state)
        except bundles.TooManyBuilds:
            outcomes.append("refused")

    assert in_threads(ask) == []
    assert sorted(outcomes) == ["preparing"] + ["refused"] * (THREADS - 1)
    assert Bundle.objects.filter(state=Bundle.State.PREPARING).count() == 1


def test_two_bundle_requests_cannot_both_pass_the_storage_limit(alice, settings, monkeypatch):
    from pipeline.celery import app

    monkeypatch.setattr(app.tasks["artifacts.tasks.build_bundle"], "delay", lambda *args: None)
    settings.BUNDLE_MAX_CONCURRENT_PER_USER = 0
    settings.BUNDLE_STORAGE_LIMIT_BYTES = 1500  # room for one model of 1,000 bytes, not two
    models = [make_artifact(alice) for _ in range(THREADS)]
    for model in models:
        add_file(model, "adapter_model.safetensors", b"w" * 1000)
    outcomes: list[str] = []

    def ask(i: int) -> None:
        try:
            outcomes.append(tasks.request_bundle(models[i]).state)
        except bundles.BundleStorageFull:
            outcomes.append("refused")

    assert in_threads(ask) == []
    assert sorted(outcomes) == ["preparing"] + ["refused"] * (THREADS - 1)
