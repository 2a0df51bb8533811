"""Stored model artifacts, their files, the ingest record per job, download grants and bundles."""

from artifacts.models.artifact import (
    ArtifactFile,
    LiveArtifactCount,
    ModelArtifact,
    ModelArtifactQuerySet,
    retention_cutoff,
)
from artifacts.models.delivery import Bundle, BundleQuerySet, DownloadGrant
from artifacts.models.ingest import ArtifactIngest, ArtifactIngestQuerySet, IngestOverview

__all__ = [
    "ArtifactFile",
    "ArtifactIngest",
    "ArtifactIngestQuerySet",
    "Bundle",
    "BundleQuerySet",
    "DownloadGrant",
    "IngestOverview",
    "LiveArtifactCount",
    "ModelArtifact",
    "ModelArtifactQuerySet",
    "retention_cutoff",
]
