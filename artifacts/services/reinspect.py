"""Inspect a stored artifact again from its files in storage (``manage.py inspect_artifacts``).

Same inspection as ingest (``artifacts.inspection``), reading each stored file once in bounded
chunks. Writing the result is one UPDATE of ``inspection``; running it twice gives the same row.
"""

from __future__ import annotations

import logging
from typing import Any

from artifacts.health.verdict import model_verdict
from artifacts.inspection import inspect_storage
from artifacts.models import ModelArtifact
from artifacts.storage.seam import artifact_storage

logger = logging.getLogger(__name__)


def reinspect(artifact: ModelArtifact) -> dict[str, Any]:
    """Inspect ``artifact``'s stored files and save the result; storage errors propagate (OSError...)."""
    keys = {row.filename: row.key for row in artifact.files.order_by("filename")}
    hyperparameters = artifact.job.hyperparameters if artifact.job_id else None
    inspection = inspect_storage(
        artifact_storage(),
        keys,
        hyperparameters if isinstance(hyperparameters, dict) else None,
        adapter_name=artifact.folder,
    )
    verdict = model_verdict(inspection, artifact.training_health)
    ModelArtifact.objects.filter(pk=artifact.pk).update(inspection=inspection, verdict=verdict)
    artifact.inspection, artifact.verdict = inspection, verdict
    return inspection
