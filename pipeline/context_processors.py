from django.http import HttpRequest

from pipeline.models import Notification

BELL_SIZE = 5  # notifications listed in the bell's dropdown


def notifications(request: HttpRequest) -> dict[str, object]:
    """The bell in the navigation bar: the unread count and the newest notifications.

    One COUNT query for signed-in users; the list is a lazy queryset, fetched (one query) only by a
    template that shows it.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    mine = Notification.objects.for_user(user)
    return {
        "unread_notifications": mine.unread().count(),
        "latest_notifications": mine.order_by("-created_at")[:BELL_SIZE],
    }
