"""``/account/tokens``: create a named token (shown once), list your own, revoke them."""

from __future__ import annotations

import re

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db

PAGE = "/account/tokens"
RAW_TOKEN = re.compile(r"plt_[A-Za-z0-9_-]{40,}")


def bearer(raw: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {raw}"})


def create(client: Client, name: str):
    return client.post(PAGE, {"name": name})


def test_the_page_needs_a_login():
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_account_menu_links_to_the_page(alice_client):
    assert f'href="{PAGE}"' in alice_client.get("/models").content.decode()


def test_a_new_token_is_shown_once_and_works_against_the_api(alice, alice_client):
    response = create(alice_client, "laptop")

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    shown = RAW_TOKEN.findall(page)
    assert len(shown) == 1
    raw = shown[0]
    assert "shown only this once" in page
    assert 'data-copy="#new-token"' in page and f'<code id="new-token">{raw}</code>' in page

    listing = bearer(raw).get("/api/models")
    assert listing.status_code == 200
    assert listing.json()["success"] is True

    again = alice_client.get(PAGE).content.decode()
    assert raw not in again
    token = ApiToken.objects.get(user=alice)
    assert token.name == "laptop"
    assert token.prefix in again and "laptop" in again
    assert raw not in token.hashed  # kept hashed


def test_the_list_shows_times_and_only_your_own_tokens(alice, bob, alice_client):
    ApiToken.objects.issue(alice, name="alice-ci")
    used, raw = ApiToken.objects.issue(alice, name="alice-laptop")
    bobs, _ = ApiToken.objects.issue(bob, name="bobs-secret-box")
    bearer(raw).get("/api/models")

    page = alice_client.get(PAGE).content.decode()

    assert "alice-ci" in page and "alice-laptop" in page
    assert "bobs-secret-box" not in page and bobs.prefix not in page
    used.refresh_from_db()
    assert used.last_used_at is not None
    assert f'datetime="{used.last_used_at.isoformat()}"' in page
    assert "Never" in page  # alice-ci has not been used


def test_revoking_asks_first_then_the_token_stops_working(alice, alice_client):
    token, raw = ApiToken.objects.issue(alice, name="old laptop")
    assert bearer(raw).get("/api/models").status_code == 200

    confirm = alice_client.get(f"{PAGE}/{token.pk}/revoke")
    assert confirm.status_code == 200
    assert "Revoke token “old laptop”?" in confirm.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None  # looking at the question revokes nothing

    response = alice_client.post(f"{PAGE}/{token.pk}/revoke", follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    assert "revoked" in response.content.decode()
    assert token.prefix not in response.content.decode().split("Your tokens", 1)[1]
    assert bearer(raw).get("/api/models").status_code == 401
    assert alice_client.post(f"{PAGE}/{token.pk}/revoke").status_code == 404  # gone from your list


def test_revoking_needs_the_csrf_token(alice):
    token, raw = ApiToken.objects.issue(alice, name="ci")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    assert client.post(f"{PAGE}/{token.pk}/revoke").status_code == 403
    assert bearer(raw).get("/api/models").status_code == 200


def test_someone_elses_token_is_404(bob, alice_client):
    token, raw = ApiToken.objects.issue(bob, name="bob's")

    assert alice_client.get(f"{PAGE}/{token.pk}/revoke").status_code == 404
    assert alice_client.post(f"{PAGE}/{token.pk}/revoke").status_code == 404
    assert alice_client.post(f"{PAGE}/999999/revoke").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert bearer(raw).get("/api/models").status_code == 200


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field is required."),
        ("    ", "This field is required."),
        ("x" * 101, "Ensure this value has at most 100 characters"),
        ("two\nlines", "Use printable characters only"),
        ("tab\there", "Use printable characters only"),
        ("bell\x07", "Use printable characters only"),
        ("nul\x00", "Null characters are not allowed."),
        ("evil\u202etxt.exe", "Use printable characters only"),
    ],
)
def test_bad_names_are_refused_and_no_token_is_made(alice, alice_client, name, message):
    response = create(alice_client, name)

    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert 'aria-invalid="true"' in page
    assert not RAW_TOKEN.search(page)
    assert not ApiToken.objects.filter(user=alice).exists()


@pytest.mark.parametrize("name", ["x" * 100, "CI — ünïcode 🚀", "<b>bold</b>"])
def test_good_names_are_kept_as_typed_and_escaped_on_the_page(alice, alice_client, name):
    response = create(alice_client, name)

    assert response.status_code == 201
    assert ApiToken.objects.get(user=alice).name == name
    assert "<b>bold</b>" not in response.content.decode()


def test_one_account_cannot_pile_up_tokens(alice, alice_client):
    from accounts.forms import MAX_ACTIVE_TOKENS

    for n in range(MAX_ACTIVE_TOKENS):
        ApiToken.objects.issue(alice, name=f"t{n}")
    refused = create(alice_client, "one too many")
    assert refused.status_code == 400
    assert "the most allowed" in refused.content.decode()
    assert ApiToken.objects.filter(user=alice).count() == MAX_ACTIVE_TOKENS

    ApiToken.objects.filter(user=alice).first().revoke()
    assert create(alice_client, "one too many").status_code == 201


def test_the_page_only_takes_get_and_post(alice_client):
    assert alice_client.put(PAGE).status_code == 405


def test_the_command_refuses_a_name_the_page_would_refuse(alice):
    with pytest.raises(CommandError, match="printable"):
        call_command("create_api_token", "alice", "--name", "bad\nname")
    assert not ApiToken.objects.exists()
