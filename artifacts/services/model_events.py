"""What happens to a model, told to its owner's webhooks (DESIGN §16).

The artifacts code that makes a change calls one of these inside the change's transaction;
``events.services.publish`` writes the outbox row with it. Every event about a model carries the
same ``data``: its id, name, repository, commit, verdict, score and links.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from events.models import ALIAS_MOVED, ARTIFACT_DELETED, ARTIFACT_FAILED, ARTIFACT_READY, ARTIFACT_RESTORED
from events.services.publish import publish

__all__ = ["ARTIFACT_DELETED", "ARTIFACT_READY", "ARTIFACT_RESTORED", "alias_moved", "ingest_failed", "model_event"]


def _link(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def model_data(artifact: Any) -> dict[str, Any]:
    return {
        "id": str(artifact.pk),
        "name": artifact.name,
        "repository": artifact.repository.full_name,
        "commit": artifact.commit,
        "verdict": artifact.verdict,
        "score": artifact.quality_score,
        "job_id": str(artifact.job_id) if artifact.job_id else None,
        "links": {"page": _link(f"/models/{artifact.pk}"), "api": _link(f"/api/models/{artifact.pk}")},
    }


def model_event(event_type: str, artifact: Any) -> None:
    """``artifact.ready`` / ``artifact.deleted`` / ``artifact.restored`` for ``artifact``."""
    publish(artifact.user_id, event_type, model_data(artifact))


def ingest_failed(job: Any, reason: str, attempts: int) -> None:
    """``artifact.failed``: the job's files could not be stored (no model exists)."""
    publish(
        job.user_id,
        ARTIFACT_FAILED,
        {
            "job_id": str(job.pk),
            "external_job_id": job.external_job_id,
            "error": reason[:500],
            "attempts": attempts,
            "links": {"job": _link(f"/training/jobs/{job.pk}")},
        },
    )


def alias_moved(
    owner_id: Any, *, repository: str, alias: str, from_commit: str | None, to_commit: str | None, model_id: Any = None
) -> None:
    """``alias.moved``: an alias of ``repository`` now points at ``to_commit`` (None: removed)."""
    publish(
        owner_id,
        ALIAS_MOVED,
        {
            "repository": repository,
            "alias": alias,
            "from": from_commit,
            "to": to_commit,
            "model_id": str(model_id) if model_id else None,
            "links": {"model": _link(f"/models/{model_id}") if model_id else None},
        },
    )
