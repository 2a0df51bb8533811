"""What every page shares: sign-in redirect, navigation, bell, user menu, and the 404 page."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_artifact, make_job
from tests.page_text import text

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(client):
    for url in ["/models", "/training/jobs", "/notifications"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_layout_has_navigation_bell_user_menu_and_toasts(alice, alice_client):
    response = alice_client.post("/notifications/read-all", follow=True)
    html = response.content.decode()
    assert 'href="/models"' in html and 'href="/training/jobs"' in html
    assert 'aria-label="Notifications, 0 unread"' in html
    assert "alice" in html and "Log out" in html
    assert 'class="skip-link"' in html
    assert "/static/css/app.css" in html and "/static/js/app.js" in html


def test_404_page_with_debug_off(settings, alice_client):
    settings.DEBUG = False
    response = alice_client.get("/models/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    page = text(response)
    assert "Page not found" in page and "Go to your models" in page
    assert 'href="/training/jobs"' in response.content.decode()  # the normal layout, signed in
    assert alice_client.get("/no/such/page").status_code == 404


def test_navigation_marks_the_current_section(alice, alice_client):
    def current(url: str) -> list[str]:
        html = alice_client.get(url).content.decode()
        return re.findall(r'class="nav__link"[^>]*aria-current="page">(\w+)<', html)

    job = make_job(alice)
    assert current("/models") == ["Models"]
    assert current("/training/jobs") == ["Jobs"]
    assert current(f"/training/jobs/{job.pk}") == ["Jobs"]
    assert current("/notifications") == []


def test_icons_are_inline_svg_hidden_from_screen_readers(alice, alice_client):
    """Every icon a page draws is an inline SVG with its shapes, marked decorative; a model tile
    carries its cube and arrow."""
    make_artifact(alice)
    html = alice_client.get("/models").content.decode()
    icons = re.findall(r'<svg class="icon[^"]*"[^>]*>(.*?)</svg>', html)
    assert icons and all(shapes.startswith("<") for shapes in icons)  # no empty icon on the page
    assert '<svg class="icon model-card__icon"' in html
    assert html.count('aria-hidden="true" focusable="false"') >= len(icons)


def test_icon_tag_escapes_its_class_and_draws_nothing_for_an_unknown_name():
    from django.template import engines

    render = engines["django"].from_string("{% load icons %}{% icon name class=cls %}").render
    assert '<svg class="icon a&lt;b"' in render({"name": "x", "cls": "a<b"})
    assert render({"name": "nope", "cls": ""}).endswith('focusable="false"></svg>')
