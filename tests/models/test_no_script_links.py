"""No page links to ``javascript:`` or ``data:``, whatever a user or the cluster put in a name, a
description, a dataset, a token label or a notification's link (DESIGN §14, "Names are plain text")."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from tests.factories import make_artifact, make_dataset, make_job, make_notification

pytestmark = pytest.mark.django_db

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "data", "srcset"}
SCRIPT = "[x](javascript:alert(1)) <a href='javascript:alert(1)'>x</a>"
DATA = "![p](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) data:text/html,<b>x</b>"


class UrlAttributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value or "" for name, value in attrs if name in URL_ATTRIBUTES]


def dangerous_urls(html: str) -> list[str]:
    parser = UrlAttributes()
    parser.feed(html)
    parser.close()
    # Browsers ignore whitespace and control characters in a scheme ("java\tscript:").
    schemes = ["".join(ch for ch in url if ch > " ").lower() for url in parser.urls]
    return [url for url in schemes if url.startswith(("javascript:", "data:", "vbscript:"))]


@pytest.fixture
def pages(alice):
    dataset = make_dataset(alice, name=f"javascript:alert(3) {DATA}")
    first = make_artifact(alice, job=make_job(alice, dataset=dataset), name=SCRIPT, description=f"{SCRIPT}\n{DATA}")
    second = make_artifact(alice, name=DATA, description="javascript:alert(2)")
    make_artifact(alice, name=f"deleted {SCRIPT}", deleted_at=timezone.now())
    make_notification(alice, title=SCRIPT, action_url="javascript:alert(1)", message=DATA)
    make_notification(alice, title=DATA, action_url="data:text/html,<script>alert(1)</script>")
    ApiToken.objects.issue(alice, name="javascript:alert(1)")
    return [
        "/models",
        "/models?q=javascript",
        f"/models/{first.pk}",
        f"/models/{second.pk}",
        f"/models/{first.pk}/edit",
        f"/models/{first.pk}/card",
        f"/models/compare?ids={first.pk},{second.pk}",
        "/models/deleted",
        f"/training/jobs/{first.job_id}",
        "/training/jobs",
        "/notifications",
        "/account/tokens",
    ], first


def test_no_page_links_to_script_or_data(alice_client, pages):
    for path in pages[0]:
        response = alice_client.get(path)
        assert response.status_code == 200, path
        assert dangerous_urls(response.content.decode()) == [], path


def test_no_admin_page_links_to_script_or_data(charlie, pages):
    from tests.conftest import logged_in

    staff = logged_in(charlie)
    model = pages[1]
    for path in (
        "/admin/",
        "/admin/artifacts/modelartifact/",
        f"/admin/artifacts/modelartifact/{model.pk}/change/",
        "/admin/pipeline/notification/",
        "/admin/accounts/apitoken/",
    ):
        response = staff.get(path)
        assert response.status_code == 200, path
        assert dangerous_urls(response.content.decode()) == [], path


def test_the_checker_finds_such_links():
    html = "<a href=' java\tscript:alert(1)'>a</a><img src='DATA:image/png;base64,AA'><a href='/models'>b</a>"
    assert dangerous_urls(html) == ["javascript:alert(1)", "data:image/png;base64,aa"]
