"""The owner renames and describes a model: ``PATCH /api/models/{id}`` and the form on its page."""

from __future__ import annotations

import pytest
from django.test import Client

from artifacts.naming import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH
from tests.factories import make_artifact
from tests.page_text import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(alice):
    return make_artifact(alice, name="Support chats · balanced · r16 · 2026-11-27", description="first try")


def patch(client, model_id, body):
    return client.patch(f"/api/models/{model_id}", body, content_type="application/json")


def test_owner_renames_and_the_detail_shows_it(alice_client, model):
    response = patch(alice_client, model.pk, {"name": "  support-bot v2  "})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["name"] == "support-bot v2"
    assert data["description"] == "first try"  # partial: untouched
    assert "training_health" in data
    model.refresh_from_db()
    assert model.name == "support-bot v2"
    assert alice_client.get(f"/api/models/{model.pk}").json()["data"]["name"] == "support-bot v2"


def test_owner_describes_over_several_lines_and_can_clear_it(alice_client, model):
    response = patch(alice_client, model.pk, {"description": "lr 2e-4\r\nbest at step 475"})
    assert response.status_code == 200
    assert response.json()["data"]["description"] == "lr 2e-4\nbest at step 475"
    assert patch(alice_client, model.pk, {"description": ""}).json()["data"]["description"] == ""
    model.refresh_from_db()
    assert model.name == "Support chats · balanced · r16 · 2026-11-27"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"name": "bad\x07name"}, "name", "control character"),
        ({"name": "two\nlines"}, "name", "single line"),
        ({"name": "evil\u202etxt.exe"}, "name", "control character"),
        ({"name": "   "}, "name", "must not be empty"),
        ({"name": "x" * (NAME_MAX_LENGTH + 1)}, "name", "the limit is 255"),
        ({"description": "y" * (DESCRIPTION_MAX_LENGTH + 1)}, "description", "the limit is 2,000"),
        ({"description": "null\x00byte"}, "description", "Null characters are not allowed"),
        ({"name": 12}, "name", "Not a valid string"),
    ],
)
def test_invalid_text_is_a_400_naming_the_field(alice_client, model, body, field, words):
    response = patch(alice_client, model.pk, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["error"].startswith(f"{field}:")
    assert words in payload["error"]
    assert field in payload["details"]
    model.refresh_from_db()
    assert model.name == "Support chats · balanced · r16 · 2026-11-27" and model.description == "first try"


@pytest.mark.parametrize("body", [{}, [], "name", {"owner": "bob"}])
def test_a_body_without_name_or_description_is_a_400(alice_client, model, body):
    response = patch(alice_client, model.pk, body)
    assert response.status_code == 400
    assert "error" in response.json()


def test_someone_elses_model_is_a_404_and_stays_unchanged(bob_client, model):
    response = patch(bob_client, model.pk, {"name": "mine now"})
    assert response.status_code == 404
    assert response.json() == {"error": "Model not found or access denied"}
    model.refresh_from_db()
    assert model.name != "mine now"
    assert bob_client.post(f"/models/{model.pk}/edit", {"name": "mine now"}).status_code == 404
    model.refresh_from_db()
    assert model.name != "mine now"


def test_a_deleted_model_cannot_be_renamed(alice_client, model):
    type(model).objects.filter(pk=model.pk).update(deleted_at="2026-01-01T00:00:00Z")
    assert patch(alice_client, model.pk, {"name": "back"}).status_code == 404


def test_no_credentials_is_401(model):
    assert patch(Client(), model.pk, {"name": "x"}).status_code in (401, 403)


def test_put_is_not_offered(alice_client, model):
    response = alice_client.put(f"/api/models/{model.pk}", {"name": "x"}, content_type="application/json")
    assert response.status_code == 405


# --- The form on the page ------------------------------------------------------------------------


def test_page_form_renames_without_javascript(alice_client, model):
    page = alice_client.get(f"/models/{model.pk}").content.decode()
    assert f'action="/models/{model.pk}/edit"' in page and 'name="csrfmiddlewaretoken"' in page
    response = alice_client.post(f"/models/{model.pk}/edit", {"name": "support-bot v3", "description": "notes"})
    assert response.status_code == 302 and response["Location"] == f"/models/{model.pk}"
    shown = text(alice_client.get(f"/models/{model.pk}"))
    assert "support-bot v3" in shown and "notes" in shown and "Saved." in shown


def test_page_form_shows_errors_and_keeps_the_input(alice_client, model):
    response = alice_client.post(f"/models/{model.pk}/edit", {"name": "bad\x1bname", "description": "kept"})
    assert response.status_code == 400
    page = text(response)
    assert "Name contains an invisible control character (U+001B)" in page
    assert "kept" in page
    model.refresh_from_db()
    assert model.name == "Support chats · balanced · r16 · 2026-11-27"


def test_page_form_needs_the_csrf_token(alice, model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(f"/models/{model.pk}/edit", {"name": "x"}).status_code == 403
