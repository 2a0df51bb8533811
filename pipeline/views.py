"""Pages for training jobs (with their artifact state) and the notification inbox."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from artifacts.models import ArtifactIngest, ModelArtifact
from artifacts.services.ingest import retry_ingest
from artifacts.views import configuration_rows
from pipeline.lib.charts import loss_chart
from pipeline.models import MetricsPoint, Notification, TrainingJob
from pipeline.templatetags.ui import safe_action_url

JOBS_PER_PAGE = 20
NOTIFICATIONS_PER_PAGE = 25


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
    return render(request, "pipeline/job_list.html", {"page": page, "jobs": page.object_list})


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
    return render(request, "pipeline/job_detail.html", context)


@login_required
@require_POST
def job_retry_ingest(request: HttpRequest, pk: Any) -> HttpResponse:
    job = get_object_or_404(TrainingJob.objects.visible_to(request.user), pk=pk)
    if retry_ingest(job):
        messages.success(request, "Retry scheduled: the model files will be fetched again shortly.")
    else:
        messages.error(request, "This job cannot be retried right now.")
    return redirect("pages:job-detail", pk=job.pk)


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    inbox = Notification.objects.for_user(request.user).inbox()
    page = Paginator(inbox, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "pipeline/notifications.html", {"page": page, "notifications": page.object_list})


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect("pages:notifications")


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: Any) -> HttpResponse:
    note = get_object_or_404(Notification.objects.for_user(request.user), pk=pk)
    Notification.objects.filter(pk=note.pk).mark_read()
    return _back(request)


@login_required
@require_GET
def notification_open(request: HttpRequest, pk: Any) -> HttpResponse:
    """Follow a notification's link: mark it read, then go where it points.

    Only a link that stays on this site is followed (``safe_action_url``); any other lands on the
    inbox. Marking read on a GET is deliberate: it is what following the link means, it only ever
    touches the user's own notification, and it can be repeated harmlessly.
    """
    note = get_object_or_404(Notification.objects.for_user(request.user), pk=pk)
    Notification.objects.filter(pk=note.pk).mark_read()
    return redirect(safe_action_url(note.action_url) or "pages:notifications")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = Notification.objects.for_user(request.user).mark_read()
    if count:
        messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} as read.")
    return _back(request)
