"""A model's own pages: the detail page with downloads, the download form and the model card.

Every query starts from ``ModelArtifact.objects.visible_to(request.user)``: someone else's or a
deleted model is simply not found (404), so a page never reveals that it exists.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from artifacts.models import ArtifactFile, ModelArtifact
from artifacts.pages.health_section import health_context
from artifacts.services.grants import NoFilesAvailable, SigningFailed, UnknownFiles, grant_download
from artifacts.services.model_card import artifact_card, card_filename
from artifacts.storage.seam import artifact_storage, url_ttl
from pipeline.lib.numbers import finite_number, first_finite
from pipeline.models import MetricsPoint

logger = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_CONFIG_MAX_BYTES = 64 * 1024
# A Hugging Face repo id ("mistralai/Mistral-7B-v0.1", "gpt2"): the only base model name pasted
# into the PEFT snippet, which people copy and run. Anything else shows the placeholder.
HF_REPO_ID = re.compile(r"[A-Za-z0-9][\w.\-]*(?:/[\w.\-]+)?", re.ASCII)
HF_REPO_ID_MAX_LENGTH = 96


def _get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


def configuration_rows(configuration: Any) -> list[tuple[str, Any, str]]:
    """(label, value, kind) for the Training Configuration card; missing keys give None."""
    hyper = _get(configuration, "hyperparameters")
    gpu = _get(configuration, "gpu_config")
    return [
        ("Preset", _get(configuration, "preset_id"), "text"),
        ("Learning Rate", _get(hyper, "learning_rate"), "number"),
        ("Batch Size", _get(hyper, "batch_size"), "number"),
        ("Epochs", _get(hyper, "epochs"), "number"),
        ("LoRA Rank", _get(hyper, "rank"), "number"),
        ("GPU Type", _get(gpu, "type"), "text"),
        ("GPU Count", _get(gpu, "count"), "count"),
    ]


def hf_repo_id(name: Any) -> str | None:
    """``name`` if it is a plain Hugging Face repo id, else None.

    The name comes from the cluster (the adapter config or the job's metadata) and ends up inside
    Python code the user runs; a quote or a path in it must not get there.
    """
    if not isinstance(name, str) or len(name) > HF_REPO_ID_MAX_LENGTH or ".." in name:
        return None
    return name if HF_REPO_ID.fullmatch(name) else None


def adapter_base_model(artifact: ModelArtifact, files: list[ArtifactFile]) -> str | None:
    """The base model named in the metadata or the stored adapter config (cached by checksum).

    Only a valid repo id counts (see :func:`hf_repo_id`); otherwise the snippet shows a placeholder.
    """
    for source in (artifact.configuration, artifact.training_summary):
        name = _get(source, "base_model") or _get(source, "base_model_name_or_path")
        if isinstance(name, str) and name:
            return hf_repo_id(name)
    config = next((f for f in files if f.filename == ADAPTER_CONFIG), None)
    if config is None or config.size > ADAPTER_CONFIG_MAX_BYTES:
        return None

    def read() -> str:
        try:
            with artifact_storage().open(config.key, "rb") as handle:
                data = json.loads(handle.read(ADAPTER_CONFIG_MAX_BYTES + 1))
        except Exception:  # storage down or not JSON: the snippet falls back to a placeholder
            logger.warning("could not read %s of artifact %s", ADAPTER_CONFIG, artifact.pk, exc_info=True)
            return ""
        name = data.get("base_model_name_or_path") if isinstance(data, dict) else None
        return name if isinstance(name, str) else ""

    return hf_repo_id(cache.get_or_set(f"adapter-base-model:{config.sha256}", read, 24 * 3600))


@login_required
@require_GET
def model_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    artifact = get_object_or_404(ModelArtifact.objects.visible_to(request.user).select_related("dataset", "job"), pk=pk)
    files = list(artifact.files.all())
    points = MetricsPoint.objects.filter(job_id=artifact.job_id).only(
        "step", "epoch", "training_loss", "validation_loss"
    )
    quality = artifact.quality_metrics if isinstance(artifact.quality_metrics, dict) else {}
    summary = artifact.training_summary if isinstance(artifact.training_summary, dict) else {}
    job = artifact.job
    improvement = finite_number(quality.get("loss_improvement"))
    context = {
        "artifact": artifact,
        "job": job,
        "dataset": artifact.dataset,
        "quality": quality,
        "quality_score": artifact.quality_score,
        "quality_label": quality.get("convergence_quality") or "unknown",
        "improvement": improvement,
        "improvement_abs": abs(improvement) if improvement is not None else None,
        "duration_hours": first_finite(summary.get("training_duration_hours"), job.duration_hours),
        "epochs": first_finite(summary.get("epochs_completed"), job.current_epoch),
        "cost": first_finite(summary.get("total_cost"), job.final_cost),
        "configuration": configuration_rows(artifact.configuration),
        "files": files,
        "total_size": sum(f.size for f in files),
        "base_model": adapter_base_model(artifact, files),
        "adapter_dir": artifact.folder,  # where the serving commands expect the files
        "ttl_minutes": url_ttl() // 60,
    }
    context.update(health_context(artifact, points))
    return render(request, "artifacts/model_detail.html", context)


@login_required
@require_POST
def model_download(request: HttpRequest, pk: Any) -> HttpResponse:
    """The download form without JavaScript: grant the chosen files and hand out their links.

    Same service as ``POST /api/models/<id>/download``. One file redirects straight to its
    signed URL; several are listed on a page of links (a response can redirect only once). With
    JavaScript the page calls the API instead and starts every download itself. When storage
    cannot sign the URLs the user is sent back to the model with an error message.
    """
    artifact = get_object_or_404(ModelArtifact.objects.visible_to(request.user), pk=pk)
    wanted = request.POST.getlist("files") if request.POST.get("scope") != "all" else []
    context: dict[str, Any] = {"artifact": artifact}
    try:
        grant = grant_download(artifact, request.user, wanted or None)
    except NoFilesAvailable:
        context["error"] = "This model has no files to download."
        return render(request, "artifacts/model_download.html", context, status=400)
    except UnknownFiles as exc:
        context["error"] = f"Unknown file name(s): {', '.join(exc.unknown)}."
        return render(request, "artifacts/model_download.html", context, status=400)
    except SigningFailed:
        messages.error(request, "Failed to generate download URLs. Storage did not answer; please try again shortly.")
        return redirect("models:detail", pk=artifact.pk)
    if len(grant.download_urls) == 1:
        return HttpResponseRedirect(next(iter(grant.download_urls.values())), status=303)
    sizes = {f.filename: f.size for f in artifact.files.all()}
    context["links"] = [(name, url, sizes.get(name)) for name, url in grant.download_urls.items()]
    context["expires_at"] = grant.expires_at
    return render(request, "artifacts/model_download.html", context)


@login_required
@require_GET
def model_card_page(request: HttpRequest, pk: Any) -> HttpResponse:
    """The model card as text on a page (``GET /api/models/<id>/card`` serves the raw Markdown)."""
    artifact = get_object_or_404(ModelArtifact.objects.visible_to(request.user).select_related("dataset"), pk=pk)
    context = {
        "artifact": artifact,
        "card": artifact_card(artifact),
        "card_filename": card_filename(artifact.artifacts or {}),
    }
    return render(request, "artifacts/model_card.html", context)
