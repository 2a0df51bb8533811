"""The admin spells its labels as words people use: "API tokens", not "Api tokens"."""

from __future__ import annotations

import re

import pytest

from accounts.models import ApiToken
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db

# Acronyms as Django's capitalisation of a class name spells them wrongly.
MISSPELT = re.compile(r"\b(Api|Url|Http|Json|Gpu|Lora|Sha|Uuid|Id)\b")


def labels(html: str) -> list[str]:
    """The app captions and model rows of the admin index, as shown."""
    found = re.findall(r'<(?:caption|th scope="row")[^>]*>\s*<a [^>]*>([^<]+)</a>', html)
    return [label.strip() for label in found]


def test_the_admin_index_says_api_tokens(charlie):
    shown = labels(logged_in(charlie).get("/admin/").content.decode())

    assert "API tokens" in shown
    assert [label for label in shown if MISSPELT.search(label)] == []


def test_the_token_pages_say_api_token(charlie, alice):
    staff = logged_in(charlie)
    token, _ = ApiToken.objects.issue(alice, name="laptop")

    listing = staff.get("/admin/accounts/apitoken/").content.decode()
    assert "Select API token to change" in listing
    change = staff.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert "SHA-256 hash" in change
    assert MISSPELT.findall(re.sub(r"<[^>]+>", " ", change)) == []
