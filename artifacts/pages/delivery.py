"""Delivery and lifecycle pages that work without JavaScript.

* ``/models/<id>/bundle``: POST starts (or joins) the zip build; GET shows its progress and
  refreshes itself (``<meta http-equiv=refresh>``) until the signed link is ready. A POST over the
  owner's bundle limits answers the page with the limit's sentence (429 or 409, as the API).
* ``/models/<id>/delete``: GET asks for confirmation, POST soft-deletes.
* ``/models/deleted``: the owner's recently deleted models; ``/models/<id>/restore`` (POST).

Same services as the API (``artifacts.services.bundles`` / ``lifecycle``), same scoping: a model
someone else owns is a 404, like a missing one.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from artifacts import tasks
from artifacts.models import ModelArtifact
from artifacts.services import bundles, lifecycle

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 2


@login_required
@require_http_methods(["GET", "POST"])
def model_bundle(request: HttpRequest, pk: Any) -> HttpResponse:
    artifact = get_object_or_404(ModelArtifact.objects.visible_to(request.user), pk=pk)
    has_files = artifact.files.exists()
    context: dict[str, Any] = {"artifact": artifact, "has_files": has_files, "refresh_seconds": REFRESH_SECONDS}
    if request.method == "POST":
        try:
            if has_files:
                tasks.request_bundle(artifact)
        except bundles.BundleLimitReached as exc:  # the API's 429/409, with the same sentence
            context["limit"] = exc.message
            response = render(request, "artifacts/model_bundle.html", context, status=exc.status_code)
            if exc.retry_after:
                response["Retry-After"] = str(exc.retry_after)
            return response
        return redirect("models:bundle", pk=artifact.pk)
    try:
        context["bundle"] = bundles.status_of(bundles.current_bundle(artifact), touch=True)
    except Exception:  # storage could not sign the link
        logger.exception("signing the bundle of artifact %s failed", artifact.pk)
        context["error"] = "Storage did not answer; please try again shortly."
    return render(request, "artifacts/model_bundle.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def model_delete(request: HttpRequest, pk: Any) -> HttpResponse:
    artifact = get_object_or_404(ModelArtifact.objects.visible_to(request.user), pk=pk)
    if request.method == "POST":
        lifecycle.soft_delete(artifact)
        messages.success(
            request,
            f"Deleted “{artifact.name}”. You can restore it from Recently deleted "
            f"for {settings.ARTIFACT_RETENTION_DAYS} days.",
        )
        return redirect("models:list")
    context = {"artifact": artifact, "retention_days": settings.ARTIFACT_RETENTION_DAYS}
    return render(request, "artifacts/model_delete.html", context)


DELETED_PER_PAGE = 50


@login_required
@require_GET
def deleted_models(request: HttpRequest) -> HttpResponse:
    models = (
        ModelArtifact.objects.deleted_for(request.user)
        .select_related("dataset")
        .only("id", "name", "deleted_at", "dataset__name")
        .order_by("-deleted_at", "-id")
    )
    page = Paginator(models, DELETED_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "models": page.object_list, "retention_days": settings.ARTIFACT_RETENTION_DAYS}
    return render(request, "artifacts/model_deleted.html", context)


@login_required
@require_POST
def model_restore(request: HttpRequest, pk: Any) -> HttpResponse:
    artifact = get_object_or_404(ModelArtifact.objects.owned_by(request.user), pk=pk)
    try:
        lifecycle.restore(artifact)
    except lifecycle.RetentionOver:
        messages.error(request, f"“{artifact.name}” was deleted too long ago to be restored.")
        return redirect("models:deleted")
    messages.success(request, f"Restored “{artifact.name}”.")
    return redirect("models:detail", pk=artifact.pk)
