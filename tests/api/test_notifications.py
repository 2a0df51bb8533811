"""``/api/notifications``: own notifications only, unread first, counts and marking read."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from pipeline.models import Notification
from tests.conftest import logged_in
from tests.factories import make_notification

pytestmark = pytest.mark.django_db


def made(user, title: str, minutes_ago: int, read: bool = False) -> Notification:
    return make_notification(user, title, read=read, created_at=timezone.now() - timedelta(minutes=minutes_ago))


def test_list_shows_unread_first_then_newest(alice, bob):
    made(alice, "read recent", 1, read=True)
    made(alice, "unread old", 30)
    made(alice, "unread new", 2)
    made(alice, "read old", 60, read=True)
    made(bob, "bob's", 0)

    response = logged_in(alice).get("/api/notifications")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    titles = [n["title"] for n in body["data"]["notifications"]]
    assert titles == ["unread new", "unread old", "read recent", "read old"]
    assert body["data"]["pagination"] == {"page": 1, "limit": 12, "total": 4, "totalPages": 1}
    first = body["data"]["notifications"][0]
    assert first["is_read"] is False and first["read_at"] is None
    assert set(first) >= {"id", "type", "title", "message", "priority", "action_url", "metadata", "created_at"}


def test_list_paginates(alice):
    for minute in range(5):
        made(alice, f"n{minute}", minute)
    data = logged_in(alice).get("/api/notifications", {"page": 2, "limit": 2}).json()["data"]
    assert [n["title"] for n in data["notifications"]] == ["n2", "n3"]
    assert data["pagination"] == {"page": 2, "limit": 2, "total": 5, "totalPages": 3}


@pytest.mark.parametrize("params", [{"page": "0"}, {"limit": "101"}, {"page": "x"}])
def test_list_rejects_bad_paging(alice, params):
    response = logged_in(alice).get("/api/notifications", params)
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}


def test_unread_count_counts_only_my_unread(alice, bob):
    made(alice, "a", 1)
    made(alice, "b", 2)
    made(alice, "c", 3, read=True)
    made(bob, "d", 1)

    response = logged_in(alice).get("/api/notifications/unread-count")

    assert response.json() == {"success": True, "data": {"unread": 2}}


def test_mark_one_read(alice):
    notification = made(alice, "ready", 1)
    client = logged_in(alice)

    response = client.post(f"/api/notifications/{notification.id}/read")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == str(notification.id)
    assert data["is_read"] is True
    notification.refresh_from_db()
    first_read_at = notification.read_at
    assert first_read_at is not None
    assert client.get("/api/notifications/unread-count").json()["data"]["unread"] == 0

    again = client.post(f"/api/notifications/{notification.id}/read")
    assert again.status_code == 200
    notification.refresh_from_db()
    assert notification.read_at == first_read_at


@pytest.mark.parametrize("target", ["someone else's", "missing", "not-a-uuid"])
def test_marking_a_notification_that_is_not_mine_is_404(alice, bob, target):
    bobs = made(bob, "bob's", 1)
    notification_id = {"someone else's": bobs.id, "missing": uuid.uuid4(), "not-a-uuid": "abc"}[target]

    response = logged_in(alice).post(f"/api/notifications/{notification_id}/read")

    assert response.status_code == 404
    assert response.json() == {"error": "Notification not found"}
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_mark_all_read_touches_only_mine(alice, bob):
    made(alice, "a", 1)
    made(alice, "b", 2)
    already = made(alice, "c", 3, read=True)
    bobs = made(bob, "d", 1)

    response = logged_in(alice).post("/api/notifications/read-all")

    assert response.json() == {"success": True, "data": {"marked_read": 2}}
    assert not Notification.objects.for_user(alice).unread().exists()
    bobs.refresh_from_db()
    assert bobs.read_at is None
    previous = already.read_at
    already.refresh_from_db()
    assert already.read_at == previous


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/notifications"),
        ("get", "/api/notifications/unread-count"),
        ("post", "/api/notifications/read-all"),
        ("post", "/api/notifications/0b8e5f0c-7a51-4d36-9f2e-64c1d3a8b297/read"),
    ],
)
def test_anonymous_is_401(method, path):
    response = getattr(Client(), method)(path)
    assert response.status_code == 401
    assert response.json() == {"error": "Authentication credentials were not provided."}


def test_session_post_needs_csrf(alice):
    made(alice, "a", 1)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post("/api/notifications/read-all").status_code == 403
    assert Notification.objects.for_user(alice).unread().count() == 1


# --- OpenAPI --------------------------------------------------------------------------------------
def test_openapi_schema_describes_the_api():
    response = Client().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    for path in (
        "/api/models",
        "/api/models/{id}",
        "/api/models/{id}/download",
        "/api/notifications",
        "/api/notifications/unread-count",
        "/api/notifications/read-all",
        "/api/notifications/{id}/read",
    ):
        assert path in schema["paths"], path
    assert schema["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"


def test_docs_page_loads_its_assets_locally():
    import re

    response = Client().get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)""", html)
    assert assets, html
    assert all(url.startswith("/static/") for url in assets), assets
    assert "cdn" not in html.lower()
    assert "/api/schema" in html
