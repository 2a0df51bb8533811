"""A name or description must show something: one made only of whitespace or invisible characters
is refused with a message saying so, by ``PATCH /api/models/{id}`` and by the edit form alike."""

from __future__ import annotations

import unicodedata

import pytest

from tests.factories import make_artifact
from tests.page_text import text

pytestmark = pytest.mark.django_db

NAME = "Support chats · balanced · r16 · 2026-11-27"


@pytest.fixture
def model(alice):
    return make_artifact(alice, name=NAME, description="first try")


def patch(client, model, body):
    return client.patch(f"/api/models/{model.pk}", body, content_type="application/json")


def unchanged(model) -> bool:
    model.refresh_from_db()
    return model.name == NAME and model.description == "first try"


INVISIBLE_NAMES = [
    ("\u200b\u200b", "invisible control character (U+200B)"),  # zero-width space
    ("\u200d", "invisible control character (U+200D)"),  # zero-width joiner, joining nothing
    ("\u2060 \u2060", "invisible control character (U+2060)"),  # word joiner
    ("\ufeff", "invisible control character (U+FEFF)"),  # byte-order mark
    ("\u00ad\u00ad", "invisible control character (U+00AD)"),  # soft hyphen
    ("\u3164", "no visible characters (U+3164 shows nothing)"),  # Hangul filler: a "letter" drawn blank
    ("\u2800\u2800\u2800", "no visible characters (U+2800 shows nothing)"),  # blank braille pattern
    ("\u0301", "no visible characters (U+0301 shows nothing)"),  # an accent with nothing to sit on
    ("\ufe0f", "no visible characters (U+FE0F shows nothing)"),  # a variation selector alone
    ("\u3000\u00a0 ", "must not be empty. It has only spaces"),  # ideographic and no-break spaces
]


@pytest.mark.parametrize(("name", "message"), INVISIBLE_NAMES)
def test_a_name_that_shows_nothing_is_a_400_saying_why(alice_client, model, name, message):
    response = patch(alice_client, model, {"name": name})

    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith("name: Name ")
    assert message in body["error"]
    assert body["details"] == {"name": [body["error"].removeprefix("name: ")]}
    assert unchanged(model)


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("   \n\t  ", "Description has only spaces or line breaks; leave it empty for no description."),
        ("\u3164\n\u3164", "Description has no visible characters (U+3164 shows nothing)"),
        ("\u200b", "Description contains an invisible control character (U+200B)"),
    ],
)
def test_a_description_that_shows_nothing_is_a_400_saying_why(alice_client, model, description, message):
    response = patch(alice_client, model, {"description": description})

    assert response.status_code == 400
    assert response.json()["error"].startswith(f"description: {message}")
    assert unchanged(model)


def test_an_empty_description_still_clears_it(alice_client, model):
    response = patch(alice_client, model, {"description": ""})
    assert response.status_code == 200
    assert response.json()["data"]["description"] == ""


@pytest.mark.parametrize(
    "name",
    [
        "\u2764\ufe0f support bot",  # ❤️: a variation selector after the heart
        "\U0001f469\u200d\U0001f4bb coder",  # 👩‍💻: joined by a zero-width joiner
        "نام\u200cگذاری",  # Persian: a zero-width non-joiner inside a word
        "cafe\u0301",  # e + combining accent, composed on the way in
        "# [x] *v2*",  # Markdown characters are text too (the card escapes them)
    ],
)
def test_names_people_write_with_invisible_helpers_inside_are_kept(alice_client, model, name):
    response = patch(alice_client, model, {"name": name})
    assert response.status_code == 200
    assert response.json()["data"]["name"] == unicodedata.normalize("NFC", name)
    model.refresh_from_db()
    assert model.name == unicodedata.normalize("NFC", name)


# --- The form on the page --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "message"), INVISIBLE_NAMES[:1] + INVISIBLE_NAMES[5:6] + INVISIBLE_NAMES[-1:])
def test_the_edit_form_refuses_a_name_that_shows_nothing(alice_client, model, name, message):
    response = alice_client.post(f"/models/{model.pk}/edit", {"name": name, "description": "kept"})

    assert response.status_code == 400
    page = text(response)
    assert message in page
    assert "kept" in page
    assert unchanged(model)


def test_the_edit_form_refuses_a_description_of_spaces(alice_client, model):
    response = alice_client.post(f"/models/{model.pk}/edit", {"name": "v2", "description": "  \r\n  "})

    assert response.status_code == 400
    assert "Description has only spaces or line breaks; leave it empty for no description." in text(response)
    assert unchanged(model)
