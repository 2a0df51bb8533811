"""Who sees which model through the API: owner, stranger, staff and anonymous; bearer tokens."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken
from tests.conftest import NOT_FOUND, logged_in
from tests.factories import add_file, make_artifact

pytestmark = pytest.mark.django_db


# --- Isolation matrix -----------------------------------------------------------------------------
@pytest.fixture
def alices_model(alice):
    artifact = make_artifact(alice, name="Alice's adapter")
    add_file(artifact, "adapter_config.json", b'{"r": 16}')
    return artifact


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("owner", {"list": 200, "detail": 200, "grant": 200}),
        ("stranger", {"list": 200, "detail": 404, "grant": 404}),
        ("staff", {"list": 200, "detail": 404, "grant": 404}),
        ("anonymous", {"list": 401, "detail": 401, "grant": 401}),
    ],
)
def test_isolation_matrix(alices_model, alice, bob, charlie, who, expected):
    client = {"owner": alice, "stranger": bob, "staff": charlie, "anonymous": None}[who]
    client = logged_in(client) if client else Client()

    listing = client.get("/api/models")
    detail = client.get(f"/api/models/{alices_model.id}")
    grant = client.post(f"/api/models/{alices_model.id}/download", {}, content_type="application/json")

    assert {"list": listing.status_code, "detail": detail.status_code, "grant": grant.status_code} == expected
    if who == "owner":
        assert [m["id"] for m in listing.json()["data"]["models"]] == [str(alices_model.id)]
        signed_url = grant.json()["data"]["download_urls"]["adapter_config.json"]
        # The signature is the credential: whoever holds the URL can fetch it, no session needed.
        assert Client().get(signed_url).getvalue() == b'{"r": 16}'
    elif who in ("stranger", "staff"):
        assert listing.json()["data"]["models"] == []
        assert detail.json() == NOT_FOUND
        assert grant.json() == NOT_FOUND
    else:
        assert listing.json() == {"error": "Authentication credentials were not provided."}
        assert listing["WWW-Authenticate"] == "Bearer"
    alices_model.refresh_from_db()
    assert alices_model.links_handed_out == (1 if who == "owner" else 0)


# --- Authentication -------------------------------------------------------------------------------
def test_bearer_token_authenticates_a_script(alice, alices_model):
    _, raw = ApiToken.objects.issue(alice)
    client = Client(headers={"Authorization": f"Bearer {raw}"})

    assert client.get("/api/models").json()["data"]["models"][0]["id"] == str(alices_model.id)
    assert client.get(f"/api/models/{alices_model.id}").status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Bearer plt_wrong-token-value-that-does-not-exist", "Bearer", "Bearer a b", "Bearer nonsense"],
)
def test_a_bad_bearer_token_is_401(alice, alices_model, header):
    response = Client(headers={"Authorization": header}).get("/api/models")
    assert response.status_code == 401
    assert "error" in response.json()
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_token_is_401(alice, alices_model):
    token, raw = ApiToken.objects.issue(alice)
    token.revoked_at = timezone.now()
    token.save()
    response = Client(headers={"Authorization": f"Bearer {raw}"}).get(f"/api/models/{alices_model.id}")
    assert response.status_code == 401
