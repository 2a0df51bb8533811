"""The owner renames or describes a model: the one place both the API's PATCH and the edit page call.

A rename changes the model's folder name (``artifacts.naming.model_folder``), so the serving
commands stored with its inspection move to the new folder in the same UPDATE: the page, the
API's ``inspection.serving``, the card and the bundle all name the folder the model now has.
"""

from __future__ import annotations

from typing import Any

from artifacts.inspection.serving import renamed
from artifacts.models import ModelArtifact


def update_display(artifact: ModelArtifact, changes: dict[str, Any]) -> None:
    """Save validated ``name`` / ``description`` changes on ``artifact``."""
    old_folder = artifact.folder
    for field, value in changes.items():
        setattr(artifact, field, value)
    fields = [*changes, "updated_at"]
    new_folder = artifact.folder
    if new_folder != old_folder and isinstance(artifact.inspection, dict) and "serving" in artifact.inspection:
        artifact.inspection = {
            **artifact.inspection,
            "serving": renamed(artifact.inspection["serving"], old_folder, new_folder),
        }
        fields.append("inspection")
    artifact.save(update_fields=fields)
