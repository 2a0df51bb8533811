from django.http import HttpRequest


def notifications(request: HttpRequest) -> dict[str, object]:
    """Unread count for the bell in the navigation bar (one COUNT query for signed-in users)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from pipeline.models import Notification

    return {"unread_notifications": Notification.objects.for_user(user).unread().count()}
