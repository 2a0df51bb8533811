"""Training job pages: what the cluster reported and what became of the job's model files.

A job's page shows its ingest state (waiting, storing with progress, failed with a retry button,
ready with a link to the model), so it lives with the artifacts rather than with the job tables.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from artifacts.charts.loss import loss_chart
from artifacts.models import ArtifactIngest, ModelArtifact
from artifacts.pages.model_detail import configuration_rows
from artifacts.tasks import retry_failed_ingest
from pipeline.models import MetricsPoint, TrainingJob

JOBS_PER_PAGE = 20


def artifact_state(job: TrainingJob) -> dict[str, Any]:
    """What happened to the job's files: waiting, ingesting, ready or failed."""
    artifact = ModelArtifact.objects.visible_to(job.user).filter(job=job).first()
    if artifact is not None:
        return {"state": "ready", "artifact": artifact}
    ingest = ArtifactIngest.objects.filter(job=job).first()
    if job.status != TrainingJob.Status.COMPLETED:
        return {"state": "training", "ingest": ingest}
    if ingest is None or ingest.state == ArtifactIngest.State.PENDING:
        return {"state": "waiting", "ingest": ingest}
    if ingest.state in (ArtifactIngest.State.RUNNING, ArtifactIngest.State.RETRYING):
        return {"state": "ingesting", "ingest": ingest}
    if ingest.state == ArtifactIngest.State.FAILED:
        return {"state": "failed", "ingest": ingest}
    return {"state": "removed", "ingest": ingest}  # stored once, since deleted


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = (
        TrainingJob.objects.visible_to(request.user)
        .select_related("dataset", "artifact", "ingest")
        .order_by("-created_at")
    )
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "artifacts/job_list.html", {"page": page, "jobs": page.object_list})


@login_required
@require_GET
def job_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    job = get_object_or_404(TrainingJob.objects.visible_to(request.user).select_related("dataset"), pk=pk)
    points = MetricsPoint.objects.filter(job=job).only("step", "training_loss", "validation_loss")
    context = {
        "job": job,
        "configuration": configuration_rows(
            {"preset_id": job.preset_id, "hyperparameters": job.hyperparameters, "gpu_config": job.gpu_config}
        ),
        "chart": loss_chart(points),
        "now": timezone.now(),
        **artifact_state(job),
    }
    return render(request, "artifacts/job_detail.html", context)


@login_required
@require_POST
def job_retry_ingest(request: HttpRequest, pk: Any) -> HttpResponse:
    job = get_object_or_404(TrainingJob.objects.visible_to(request.user), pk=pk)
    if retry_failed_ingest(job):
        messages.success(request, "Retry scheduled: the model files will be fetched again shortly.")
    else:
        messages.error(request, "This job cannot be retried right now.")
    return redirect("jobs:job-detail", pk=job.pk)
