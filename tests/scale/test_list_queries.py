"""Every list view makes the same number of queries whatever the page size, the depth, the filter
and how many rows hang off each model, on rows as ingest stores them (``bench/scale_data.py``:
three file rows each, training health and inspection JSON, bundles, soft-deleted models)."""

from __future__ import annotations

import functools
import random

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from artifacts.models import ArtifactFile, ModelArtifact
from bench.scale_data import RunShape, fill_user, run_shapes
from pipeline.models import Dataset

API_QUERIES = 4  # session, user, total, page
PAGE_QUERIES = 8  # session, user, datasets, total, page, the bell (2), storage use
FILTERED_PAGE_QUERIES = PAGE_QUERIES + 1  # and the count of the matches


@functools.cache
def shapes() -> tuple[RunShape, ...]:
    return tuple(run_shapes())


def fill(user, count: int, first: int = 0) -> None:
    fill_user(user, count, list(shapes()), random.Random(first), first)
    # A few deleted within the retention period, so "Recently deleted" lists some.
    live = ModelArtifact.objects.filter(user=user, deleted_at__isnull=True).order_by("created_at")
    ModelArtifact.objects.filter(pk__in=list(live.values_list("pk", flat=True)[:3])).update(deleted_at=timezone.now())


def queries(client, url: str) -> int:
    """The queries of one request, caches empty (so a cached figure does not hide its query)."""
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured)


def api_urls(user) -> list[str]:
    dataset = Dataset.objects.filter(user=user).order_by("name").values_list("pk", flat=True).first()
    return [
        "/api/models",
        "/api/models?sort=quality",
        "/api/models?page=2",
        "/api/models?page=4&sort=quality",
        "/api/models?limit=100",
        "/api/models?limit=1&page=30",
        "/api/models?min_score=4",
        "/api/models?min_score=4&sort=quality",
        "/api/models?convergence=good",
        "/api/models?convergence=overfitting%20detected",
        "/api/models?verdict=ok,warnings",
        "/api/models?verdict=unusable&sort=quality",
        f"/api/models?dataset={dataset}",
        "/api/models?q=legal",
        "/api/models?q=nothing-matches",
        "/api/models?min_score=2&verdict=ok,warnings&q=r&sort=quality",
        "/api/models?deleted=true",
        "/api/models?deleted=true&limit=100",
    ]


PAGE_URLS = [
    "/models",
    "/models?page=2",
    "/models?page=3&sort=quality",
    "/models?min_score=5&convergence=excellent",
    "/models?verdict=ok,warnings&q=legal",
]


@pytest.mark.django_db
def test_the_filled_rows_look_like_ingested_ones(alice):
    fill(alice, 40)
    artifact = ModelArtifact.objects.filter(user=alice).first()
    assert set(artifact.artifacts) == {"adapter_config.json", "adapter_model.safetensors", "README.md"}
    assert ArtifactFile.objects.filter(artifact__user=alice).count() == 120
    assert {"summary", "checks"} <= set(artifact.training_health)
    assert "verdict" in artifact.inspection and artifact.verdict in ("ok", "warnings", "unusable")
    assert artifact.job.artifact_id == artifact.pk  # the job points back, as ingest leaves it


@pytest.mark.django_db
def test_api_list_queries_do_not_grow_with_rows_depth_page_size_or_filters(alice, alice_client):
    fill(alice, 60)
    small = {url: queries(alice_client, url) for url in api_urls(alice)}
    fill(alice, 120, first=60)
    large = {url: queries(alice_client, url) for url in api_urls(alice)}
    assert small == large
    # Nothing matches: the total says so and no page is read.
    assert large == {url: API_QUERIES - 1 if "nothing" in url else API_QUERIES for url in large}


@pytest.mark.django_db
def test_models_page_queries_do_not_grow_with_rows_depth_or_filters(alice, alice_client):
    fill(alice, 60)
    small = {url: queries(alice_client, url) for url in PAGE_URLS}
    fill(alice, 120, first=60)
    large = {url: queries(alice_client, url) for url in PAGE_URLS}
    assert small == large
    assert large == {url: FILTERED_PAGE_QUERIES if "_" in url or "q=" in url else PAGE_QUERIES for url in PAGE_URLS}


@pytest.mark.django_db
def test_recently_deleted_and_the_admin_pages_make_a_fixed_number_of_queries(alice, alice_client, admin_client):
    fill(alice, 30)
    urls = ["/admin/artifacts/ingestoverview/", "/admin/", "/admin/artifacts/modelartifact/"]
    small = [queries(alice_client, "/models/deleted")] + [queries(admin_client, url) for url in urls]
    fill(alice, 150, first=30)
    assert ModelArtifact.objects.filter(user=alice, deleted_at__isnull=False).count() > 2
    large = [queries(alice_client, "/models/deleted")] + [queries(admin_client, url) for url in urls]
    assert small == large
