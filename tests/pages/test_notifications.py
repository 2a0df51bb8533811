"""The notification inbox and the bell: order, unread count, marking read, links that stay on the site."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from pipeline.models import Notification
from tests.page_text import text

pytestmark = pytest.mark.django_db


def notify(user, title: str, minutes_ago: int = 0, read: bool = False, action_url: str = "/models"):
    return Notification.objects.create(
        user=user,
        type="artifact_ready",
        title=title,
        message=f"{title} message",
        priority="high",
        action_url=action_url,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
        read_at=timezone.now() if read else None,
    )


def bell_count(response) -> int:
    match = re.search(r'data-testid="unread-count">(\d+)<', response.content.decode())
    return int(match.group(1)) if match else 0


def test_notifications_unread_first_with_links(alice, bob, alice_client):
    notify(alice, "Old unread", minutes_ago=30)
    notify(alice, "Newer read", minutes_ago=5, read=True)
    notify(alice, "Newest unread", minutes_ago=1, action_url="/models/123")
    notify(alice, "Evil link", minutes_ago=60, read=True, action_url="javascript:alert(1)")
    notify(bob, "Bob only")
    response = alice_client.get("/notifications")
    html = response.content.decode()
    titles = re.findall(r'data-testid="notification">.*?class="inbox__title">(.*?)</p>', html, re.S)
    plain = [re.sub(r"<[^>]+>|Unread: |High", "", t).strip() for t in titles]
    assert plain == ["Newest unread", "Old unread", "Newer read", "Evil link"]
    newest = Notification.objects.get(title="Newest unread")
    assert f'href="/notifications/{newest.pk}/open"' in html
    assert alice_client.get(f"/notifications/{newest.pk}/open")["Location"] == "/models/123"
    assert "javascript:" not in html
    assert "Bob only" not in html
    assert bell_count(response) == 2


def test_bell_lists_latest_five(alice, alice_client):
    for i in range(7):
        notify(alice, f"Note {i}", minutes_ago=i)
    html = alice_client.get("/models").content.decode()
    assert re.findall(r'class="bell__title">.*?(Note \d)</span>', html, re.S) == [f"Note {i}" for i in range(5)]


def test_mark_read_lowers_the_bell_count(alice, bob, alice_client, bob_client):
    first = notify(alice, "First")
    notify(alice, "Second")
    assert bell_count(alice_client.get("/models")) == 2
    assert bob_client.post(f"/notifications/{first.pk}/read").status_code == 404
    response = alice_client.post(f"/notifications/{first.pk}/read", follow=True)
    assert bell_count(response) == 1
    response = alice_client.post("/notifications/read-all", {"next": "/models"}, follow=True)
    assert response.redirect_chain[-1][0] == "/models"
    assert bell_count(response) == 0
    assert "Marked 1 notification as read." in text(response)
    assert alice_client.get(f"/notifications/{first.pk}/read").status_code == 405
    # An off-site "next" is ignored.
    response = alice_client.post("/notifications/read-all", {"next": "https://evil.example/"})
    assert response["Location"] == "/notifications"


def test_following_a_notification_link_marks_it_read(alice, alice_client):
    note = notify(alice, "Model ready", action_url="/models")
    notify(alice, "Another")
    inbox = alice_client.get("/notifications").content.decode()
    bell_html = alice_client.get("/training/jobs").content.decode()
    link = f'href="/notifications/{note.pk}/open"'
    assert link in inbox and link in bell_html

    response = alice_client.get(f"/notifications/{note.pk}/open", follow=True)

    assert response.redirect_chain == [("/models", 302)]
    assert bell_count(response) == 1
    note.refresh_from_db()
    assert note.read_at is not None
    first_read = note.read_at
    alice_client.get(f"/notifications/{note.pk}/open")  # following it again keeps the first read time
    note.refresh_from_db()
    assert note.read_at == first_read


@pytest.mark.parametrize(
    "action_url", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""]
)
def test_opening_a_notification_never_leaves_the_site(alice, alice_client, action_url):
    note = notify(alice, "Suspicious", action_url=action_url)

    response = alice_client.get(f"/notifications/{note.pk}/open")

    assert response.status_code == 302 and response["Location"] == "/notifications"
    note.refresh_from_db()
    assert note.read_at is not None


def test_opening_someone_elses_notification_is_404(alice, bob_client, client):
    note = notify(alice, "Alice only")
    assert bob_client.get(f"/notifications/{note.pk}/open").status_code == 404
    assert "/accounts/login/" in client.get(f"/notifications/{note.pk}/open")["Location"]
    note.refresh_from_db()
    assert note.read_at is None
