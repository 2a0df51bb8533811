"""Staff overview in the admin: artifacts, storage used (total and per user), ingest success rate
and p50/p95 ingest time over the last 7 days, failures grouped by reason with a one-click retry.

It appears in the admin index as "Storage and ingest overview" (a proxy of the ingest record) and
needs the staff member to be allowed to view ingest records.
"""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from artifacts.models import ArtifactFile, ArtifactIngest, Bundle, IngestOverview, ModelArtifact
from artifacts.services.lifecycle import storage_by_user

WINDOW = timedelta(days=7)
TOP_USERS = 50


def percentile(values: list[float], fraction: float) -> float | None:
    """The ``fraction`` quantile (inclusive method, like a spreadsheet's PERCENTILE)."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(fraction * 100) - 1]


def ingest_stats(now: Any) -> dict[str, Any]:
    """Attempts that finished in the window: success rate and durations of the successful ones."""
    finished = ArtifactIngest.objects.filter(
        finished_at__gte=now - WINDOW,
        state__in=[ArtifactIngest.State.SUCCEEDED, ArtifactIngest.State.FAILED],
    )
    counts = {row["state"]: row["n"] for row in finished.values("state").annotate(n=Count("id")).order_by()}
    succeeded = counts.get(ArtifactIngest.State.SUCCEEDED, 0)
    failed = counts.get(ArtifactIngest.State.FAILED, 0)
    durations = sorted(
        (done - started).total_seconds()
        for started, done in finished.filter(state=ArtifactIngest.State.SUCCEEDED)
        .values_list("started_at", "finished_at")
        .iterator()
        if started is not None and done is not None
    )
    return {
        "succeeded": succeeded,
        "failed": failed,
        "success_rate": succeeded / (succeeded + failed) if succeeded + failed else None,
        "p50_seconds": percentile(durations, 0.50),
        "p95_seconds": percentile(durations, 0.95),
    }


@admin.register(IngestOverview)
class IngestOverviewAdmin(admin.ModelAdmin):
    """The proxy's changelist is the overview page; nothing is added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if request.method == "POST":
            return self.retry_failures(request)
        now = timezone.now()
        files = ArtifactFile.objects.aggregate(bytes=Sum("size"), count=Count("id"))
        bundle_bytes = Bundle.objects.filter(state=Bundle.State.READY).aggregate(bytes=Sum("size"))["bytes"] or 0
        failures = (
            ArtifactIngest.objects.filter(state=ArtifactIngest.State.FAILED)
            .values("last_error")
            .annotate(jobs=Count("id"))
            .order_by("-jobs", "last_error")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Storage and ingest overview",
            "opts": self.model._meta,
            "artifacts_live": ModelArtifact.objects.filter(deleted_at__isnull=True).count(),
            "artifacts_deleted": ModelArtifact.objects.filter(deleted_at__isnull=False).count(),
            "file_count": files["count"],
            "file_bytes": files["bytes"] or 0,
            "bundle_bytes": bundle_bytes,
            "total_bytes": (files["bytes"] or 0) + bundle_bytes,
            "users": storage_by_user().filter(stored_bytes__gt=0).order_by("-stored_bytes")[:TOP_USERS],
            "ingest": ingest_stats(now),
            "window_days": WINDOW.days,
            "failures": list(failures),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/artifacts/overview.html", context)

    def retry_failures(self, request: HttpRequest) -> HttpResponse:
        """Retry every failed ingest whose last error is the posted reason."""
        from artifacts.tasks import retry_failed_ingest

        reason = request.POST.get("reason", "")
        failed = ArtifactIngest.objects.filter(state=ArtifactIngest.State.FAILED, last_error=reason)
        retried = sum(retry_failed_ingest(ingest.job) for ingest in failed.select_related("job"))
        messages.success(request, f"Queued {retried} job(s) for ingest.")
        return HttpResponseRedirect(reverse("admin:artifacts_ingestoverview_changelist"))
