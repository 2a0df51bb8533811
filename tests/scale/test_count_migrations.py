"""Migrations 0014 and 0015 count the facets and copy the live names of the models that exist when
they run, then keep them up to date."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from artifacts.models import ModelArtifact
from tests.api.test_list_depth import (
    bulk_artifacts,
    facet_counts,
    search_names,
    true_facet_counts,
    true_search_names,
)
from tests.factories import make_artifact

pytestmark = pytest.mark.django_db(transaction=True)


def migrate_to(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def test_the_migration_fills_the_counts_from_the_rows_it_finds(alice, bob):
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    made = bulk_artifacts(alice, 9)
    make_artifact(bob, verdict="unusable", quality_metrics={"convergence_quality": "diverged"})
    ModelArtifact.objects.filter(pk=made[0].pk).update(deleted_at=timezone.now())
    migrate_to([("artifacts", "0013_ingest_finished_idx")])  # no counts, no triggers
    ModelArtifact.objects.filter(pk=made[1].pk).update(quality_score=1, verdict="warnings")  # uncounted
    try:
        migrate_to([("artifacts", "0014_facet_counts")])
        assert facet_counts(alice, bob) == true_facet_counts(alice, bob)
        assert facet_counts(alice)[(alice.pk, "convergence", "good")] == 8
        ModelArtifact.objects.filter(pk=made[2].pk).update(deleted_at=timezone.now())  # and the triggers run
        assert facet_counts(alice, bob) == true_facet_counts(alice, bob)
    finally:
        migrate_to(leaves)


def test_the_migration_copies_the_live_names_it_finds(alice, bob):
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    made = bulk_artifacts(alice, 6)
    make_artifact(bob, name="Bob's legal run")
    ModelArtifact.objects.filter(pk=made[0].pk).update(deleted_at=timezone.now())
    migrate_to([("artifacts", "0014_facet_counts")])  # no names table, no triggers
    ModelArtifact.objects.filter(pk=made[1].pk).update(name="Renamed before the copy")
    try:
        migrate_to([("artifacts", "0015_search_names")])
        assert search_names(alice, bob) == true_search_names(alice, bob)
        assert len(search_names(alice)) == 5
        ModelArtifact.objects.filter(pk=made[2].pk).update(deleted_at=timezone.now())  # and the triggers run
        assert search_names(alice, bob) == true_search_names(alice, bob)
        assert len(search_names(alice)) == 4
    finally:
        migrate_to(leaves)
