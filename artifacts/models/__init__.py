"""Stored model artifacts, their files, the ingest record per job, download grants, bundles, the
repositories and aliases they are revisions of, and the per-user storage counters."""

from artifacts.models.artifact import (
    ArtifactFacetCount,
    ArtifactFile,
    ArtifactSearchName,
    LiveArtifactCount,
    ModelArtifact,
    ModelArtifactQuerySet,
    retention_cutoff,
    with_owner,
)
from artifacts.models.delivery import Bundle, BundleQuerySet, DownloadGrant
from artifacts.models.ingest import ArtifactIngest, ArtifactIngestQuerySet, IngestOverview
from artifacts.models.registry import Alias, AliasMove, Repository, RepositoryQuerySet
from artifacts.models.usage import StorageUsage, StorageUsageQuerySet

__all__ = [
    "Alias",
    "AliasMove",
    "ArtifactFacetCount",
    "ArtifactFile",
    "ArtifactIngest",
    "ArtifactIngestQuerySet",
    "ArtifactSearchName",
    "Bundle",
    "BundleQuerySet",
    "DownloadGrant",
    "IngestOverview",
    "LiveArtifactCount",
    "ModelArtifact",
    "ModelArtifactQuerySet",
    "Repository",
    "RepositoryQuerySet",
    "StorageUsage",
    "StorageUsageQuerySet",
    "retention_cutoff",
    "with_owner",
]
