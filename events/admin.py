from django.contrib import admin

from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "owner", "enabled", "failing_since", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "description", "owner__username")
    list_select_related = ("owner",)
    exclude = ("secret", "previous_secret")  # signing secrets are never shown after creation
    readonly_fields = ("previous_secret_expires_at", "failing_since", "created_at", "updated_at")

    def has_add_permission(self, request):  # owners create endpoints (and see the secret) on their page
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("type", "owner", "created_at")
    list_filter = ("type",)
    search_fields = ("id", "owner__username")
    list_select_related = ("owner",)
    readonly_fields = ("owner", "type", "payload", "created_at")


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("at", "status_code", "duration_ms", "response_excerpt", "error")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("webhook_id", "endpoint", "state", "attempts", "last_status", "next_attempt_at", "created_at")
    list_filter = ("state",)
    search_fields = ("webhook_id", "endpoint__url")
    list_select_related = ("endpoint",)
    readonly_fields = ("event", "endpoint", "webhook_id", "attempts", "last_status", "last_error", "created_at")
    inlines = [AttemptInline]
