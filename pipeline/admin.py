from django.contrib import admin

from pipeline.admin_utils import pretty_json
from pipeline.models import Dataset, MetricsPoint, Notification, TrainingJob


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "total_training_pairs", "total_tokens", "created_at")
    search_fields = ("name", "user__username")
    list_select_related = ("user",)
    date_hierarchy = "created_at"


class MetricsPointInline(admin.TabularInline):
    model = MetricsPoint
    extra = 0
    fields = ("step", "epoch", "training_loss", "validation_loss", "learning_rate", "timestamp")
    readonly_fields = fields
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    # Short columns so the list fits 1280 px: the artifact's (long) name is on the job's page.
    list_display = ("external_job_id", "user", "dataset", "status", "completed_at", "has_artifact")
    list_filter = ("status", "preset_id")
    search_fields = ("id", "external_job_id", "user__username", "dataset__name")
    list_select_related = ("user", "dataset")
    raw_id_fields = ("user", "dataset", "artifact")
    readonly_fields = ("hyperparameters_pretty", "gpu_config_pretty", "current_metrics_pretty")
    inlines = [MetricsPointInline]
    date_hierarchy = "created_at"

    @admin.display(description="Artifact", boolean=True, ordering="artifact")
    def has_artifact(self, obj):
        return obj.artifact_id is not None

    @admin.display(description="Hyperparameters")
    def hyperparameters_pretty(self, obj):
        return pretty_json(obj.hyperparameters)

    @admin.display(description="GPU config")
    def gpu_config_pretty(self, obj):
        return pretty_json(obj.gpu_config)

    @admin.display(description="Current metrics")
    def current_metrics_pretty(self, obj):
        return pretty_json(obj.current_metrics)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "type", "priority", "created_at", "read_at")
    list_filter = ("type", "priority", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "message", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("metadata_pretty",)
    raw_id_fields = ("user",)

    @admin.display(description="Metadata")
    def metadata_pretty(self, obj):
        return pretty_json(obj.metadata)


# The product's name on every admin page (header, browser tab) instead of "Django administration".
admin.site.site_header = "PIPELINE administration"
admin.site.site_title = "PIPELINE admin"
admin.site.index_title = "Models, training jobs and deliveries"
# The app list is one click away on every page (Home); without the sidebar the change lists get the
# width they need at 1280 px.
admin.site.enable_nav_sidebar = False
