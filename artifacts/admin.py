from django.contrib import admin, messages
from django.utils import timezone

from artifacts.models import Alias, AliasMove, ArtifactFile, ArtifactIngest, DownloadGrant, ModelArtifact, Repository
from artifacts.services import lifecycle
from pipeline.admin_utils import pretty_json


class ArtifactFileInline(admin.TabularInline):
    model = ArtifactFile
    extra = 0
    fields = ("filename", "size", "sha256", "content_type", "key")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ModelArtifact)
class ModelArtifactAdmin(admin.ModelAdmin):
    # Short columns so the list fits a 1280 px screen; the name wraps, the rest stays one line.
    list_display = ("name", "user", "stars", "health", "links", "created", "deleted")
    list_filter = ("status", "quality_score", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("id", "name", "user__username", "job__external_job_id")
    list_select_related = ("user",)
    raw_id_fields = ("user", "job", "dataset")
    readonly_fields = (
        "quality_metrics_pretty",
        "training_summary_pretty",
        "configuration_pretty",
        "artifacts_pretty",
        "training_health_pretty",
        "links_handed_out",
    )
    exclude = ("quality_metrics", "training_summary", "configuration", "artifacts", "training_health")
    inlines = [ArtifactFileInline]
    actions = ["soft_delete", "restore"]
    date_hierarchy = "created_at"

    @admin.display(description="Stars", ordering="quality_score")
    def stars(self, obj):
        return obj.quality_score

    @admin.display(description="Health")
    def health(self, obj):
        from artifacts.health.verdict import run_verdict

        health = obj.training_health if isinstance(obj.training_health, dict) else {}
        return run_verdict(health, obj.quality_metrics if isinstance(obj.quality_metrics, dict) else {})["card_label"]

    @admin.display(description="Links issued", ordering="links_handed_out")
    def links(self, obj):
        return obj.links_handed_out

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj):
        return timezone.localtime(obj.created_at).strftime("%Y-%m-%d")

    @admin.display(description="Deleted", boolean=True, ordering="deleted_at")
    def deleted(self, obj):
        return obj.deleted_at is not None

    @admin.display(description="Quality metrics")
    def quality_metrics_pretty(self, obj):
        return pretty_json(obj.quality_metrics)

    @admin.display(description="Training summary")
    def training_summary_pretty(self, obj):
        return pretty_json(obj.training_summary)

    @admin.display(description="Configuration")
    def configuration_pretty(self, obj):
        return pretty_json(obj.configuration)

    @admin.display(description="Training health")
    def training_health_pretty(self, obj):
        return pretty_json(obj.training_health)

    @admin.display(description="Files (filename → storage key)")
    def artifacts_pretty(self, obj):
        return pretty_json(obj.artifacts)

    @admin.action(description="Soft-delete selected models (hidden from their owners)")
    def soft_delete(self, request, queryset):
        # Through the lifecycle service, as the owner's delete: ``main`` moves off, webhooks hear of it.
        updated = sum(lifecycle.soft_delete(artifact) for artifact in queryset.filter(deleted_at__isnull=True))
        self.message_user(request, f"Soft-deleted {updated} model(s).")

    @admin.action(description="Restore selected models")
    def restore(self, request, queryset):
        restored = too_old = 0
        for artifact in queryset.filter(deleted_at__isnull=False):
            try:
                restored += lifecycle.restore(artifact)
            except lifecycle.RetentionOver:
                too_old += 1
        self.message_user(request, f"Restored {restored} model(s).")
        if too_old:
            self.message_user(
                request,
                f"{too_old} model(s) were deleted longer than the retention ago and cannot come back.",
                level=messages.WARNING,
            )


@admin.register(ArtifactIngest)
class ArtifactIngestAdmin(admin.ModelAdmin):
    list_display = ("job", "state", "attempts", "progress", "next_attempt_at", "updated_at")
    list_filter = ("state",)
    search_fields = ("job__id", "job__external_job_id", "last_error")
    list_select_related = ("job",)
    actions = ["retry"]
    readonly_fields = (
        "job",
        "attempts",
        "last_error",
        "lease_token",
        "lease_expires_at",
        "bytes_done",
        "bytes_total",
        "current_file",
        "started_at",
        "finished_at",
    )

    @admin.display(description="Progress")
    def progress(self, obj):
        if obj.bytes_total:
            return f"{obj.bytes_done:,} / {obj.bytes_total:,} bytes ({obj.progress_percent}%)"
        return f"{obj.bytes_done:,} bytes" if obj.bytes_done else "—"

    @admin.action(description="Retry ingest of selected jobs now")
    def retry(self, request, queryset):
        from artifacts.tasks import retry_failed_ingest

        retried = sum(retry_failed_ingest(ingest.job) for ingest in queryset.select_related("job"))
        self.message_user(request, f"Queued {retried} job(s) for ingest.")


@admin.register(DownloadGrant)
class DownloadGrantAdmin(admin.ModelAdmin):
    list_display = ("artifact", "user", "created_at", "expires_at")
    search_fields = ("artifact__name", "user__username")
    list_select_related = ("artifact", "user")
    readonly_fields = ("artifact", "user", "files", "created_at", "expires_at")


from artifacts.pages import admin_overview  # noqa: E402, F401  (registers the storage and ingest overview)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AliasInline(ReadOnlyInline):
    model = Alias
    fields = ("name", "artifact", "updated_at", "updated_by")
    readonly_fields = fields


class AliasMoveInline(ReadOnlyInline):
    model = AliasMove
    fields = ("at", "alias", "from_commit", "to_commit", "by", "forced", "note")
    readonly_fields = fields
    ordering = ("-at",)


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    """Read-only: aliases move through the registry service (pages, API, CLI), which records each
    move in the history and tells the owner's webhooks; an edit here would do neither."""

    list_display = ("name", "user", "main_pinned", "created_at")
    search_fields = ("name", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("user", "name", "description", "main_pinned", "created_at", "updated_at")
    inlines = [AliasInline, AliasMoveInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return request.method in ("GET", "HEAD") and super().has_change_permission(request, obj)
