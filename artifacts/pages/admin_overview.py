"""Staff overview in the admin: artifacts, storage used (total and per user, ``USERS_PER_PAGE``
users a page, largest first), ingest success rate and p50/p95 ingest time over the last 7 days,
failures grouped by reason with a one-click retry.

Every storage figure comes from the per-user counters (``StorageUsage``, ``LiveArtifactCount``):
the page costs the same few queries whether there are ten users or a hundred thousand models.

It appears in the admin index as "Storage and ingest overview" (a proxy of the ingest record) and
needs the staff member to be allowed to view ingest records.
"""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from artifacts.models import ArtifactIngest, IngestOverview, LiveArtifactCount, StorageUsage
from artifacts.services.lifecycle import storage_by_user

WINDOW = timedelta(days=7)
USERS_PER_PAGE = 50


def percentile(values: list[float], fraction: float) -> float | None:
    """The ``fraction`` quantile (inclusive method, like a spreadsheet's PERCENTILE)."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(fraction * 100) - 1]


class PercentileCont(Aggregate):
    """PostgreSQL's ``PERCENTILE_CONT(f) WITHIN GROUP (ORDER BY x)``: the same interpolated quantile
    as :func:`percentile`, worked out by the database."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def duration_percentiles(succeeded: QuerySet[ArtifactIngest]) -> tuple[float | None, float | None]:
    """p50 and p95 of the successful attempts' durations, in seconds. On PostgreSQL one aggregate
    (the window may hold every ingest of a busy week); elsewhere the durations are read and sorted."""
    timed = succeeded.filter(started_at__isnull=False)
    if connection.vendor == "postgresql":
        took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        row = timed.aggregate(
            p50=PercentileCont(took, 0.50, output_field=DurationField()),
            p95=PercentileCont(took, 0.95, output_field=DurationField()),
        )
        p50, p95 = (None if row[k] is None else float(row[k].total_seconds()) for k in ("p50", "p95"))
        return p50, p95
    durations = sorted(
        (done - started).total_seconds()
        for started, done in timed.values_list("started_at", "finished_at").iterator()
        if started is not None and done is not None
    )
    return percentile(durations, 0.50), percentile(durations, 0.95)


def ingest_stats(now: Any) -> dict[str, Any]:
    """Attempts that finished in the window: success rate and durations of the successful ones."""
    finished = ArtifactIngest.objects.filter(
        finished_at__gte=now - WINDOW,
        state__in=[ArtifactIngest.State.SUCCEEDED, ArtifactIngest.State.FAILED],
    )
    counts = {row["state"]: row["n"] for row in finished.values("state").annotate(n=Count("id")).order_by()}
    succeeded = counts.get(ArtifactIngest.State.SUCCEEDED, 0)
    failed = counts.get(ArtifactIngest.State.FAILED, 0)
    p50, p95 = duration_percentiles(finished.filter(state=ArtifactIngest.State.SUCCEEDED))
    return {
        "succeeded": succeeded,
        "failed": failed,
        "success_rate": succeeded / (succeeded + failed) if succeeded + failed else None,
        "p50_seconds": p50,
        "p95_seconds": p95,
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
        totals = {
            name: value or 0
            for name, value in StorageUsage.objects.aggregate(
                models=Sum("model_count"),
                files=Sum("file_count"),
                file_bytes=Sum("file_bytes"),
                bundle_bytes=Sum("bundle_bytes"),
            ).items()
        }
        live = LiveArtifactCount.objects.aggregate(live=Sum("live"))["live"] or 0
        users = Paginator(storage_by_user(), USERS_PER_PAGE).get_page(request.GET.get("page"))
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
            "artifacts_live": live,
            "artifacts_deleted": max(0, totals["models"] - live),
            "file_count": totals["files"],
            "file_bytes": totals["file_bytes"],
            "bundle_bytes": totals["bundle_bytes"],
            "total_bytes": totals["file_bytes"] + totals["bundle_bytes"],
            "users": users,
            "user_pages": users.paginator.get_elided_page_range(users.number, on_each_side=2, on_ends=1),
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
