"""Names are plain text in the model card: Markdown or HTML in a model's name, its dataset's name or
the cluster's values shows as those characters when the card is rendered, never as a link, an
image, emphasis or a heading of its own."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from artifacts.inspection.card import model_card
from tests.factories import make_artifact, make_dataset, make_job

# CommonMark with GitHub's tables and strikethrough, as the Hub and GitHub render a README; told to
# accept every link, as a renderer that does not filter schemes would, so the card must not rely on it.
RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
RENDERER.validateLink = lambda url: True

HOSTILE = [
    "[x](javascript:alert(1))",
    "![pixel](data:image/png;base64,iVBORw0KGgo=)",
    "<a href='javascript:alert(1)'>click</a>",
    "<javascript:alert(1)>",
    "[x]: javascript:alert(1)",
    "*bold* _em_ `code` ~~gone~~ | cell | # not a heading #",
    "&#106;avascript:alert(1) &amp; \\[escaped\\]",
    "1. not a list",
]


class Elements(HTMLParser):
    """The tags, their attributes and the text of each h1 in rendered HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[str] = []
        self._in_h1 = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "h1":
            self._in_h1 = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data):
        if self._in_h1:
            self.headings[-1] += data


def rendered(markdown: str) -> Elements:
    body = markdown.split("\n---\n", 1)[1]  # the Markdown after the YAML front matter
    parser = Elements()
    parser.feed(RENDERER.render(body))
    parser.close()
    return parser


def links(elements: Elements) -> list[str]:
    return [str(a.get("href") or a.get("src")) for tag, a in elements.tags if tag in ("a", "img")]


def structure(elements: Elements) -> list[str]:
    return [tag for tag, _ in elements.tags]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_name_shows_as_typed_and_makes_no_link(name):
    elements = rendered(model_card(name=name))

    assert elements.headings == [name]  # one heading, reading exactly the name
    assert links(elements) == []
    assert structure(elements) == structure(rendered(model_card(name="Plain")))


def card_with(value: str) -> str:
    """A card where every value the cluster, the dataset or the health report supplies is ``value``."""
    return model_card(
        name="Support bot",
        dataset_name=value,
        configuration={"preset_id": value, "hyperparameters": {"rank": value, "lora_alpha": value}},
        training_summary={"epochs_completed": value, "total_steps": value},
        health={"summary": value, "checks": [{"code": value, "status": "warn", "message": value}]},
        inspection={
            "verdict": "warnings",
            "findings": [{"code": value, "severity": value, "message": value}],
            "adapter": {"base_model": value, "r": value, "lora_alpha": value, "target_modules": [value]},
            "serving": {"peft": {"ready": False, "reasons": [value], "command": None}},
        },
        files=[{"filename": value, "size": 10, "sha256": "ab" * 32}],
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_other_values_in_the_card_make_no_link_or_markup_either(value):
    elements = rendered(card_with(value))

    assert links(elements) == []
    # The same headings, tables, lists and code as with plain words: nothing came out of the values.
    assert structure(elements) == structure(rendered(card_with("plain")))


def test_ordinary_names_stay_readable_in_the_raw_card():
    markdown = model_card(name="support-bot v2 · r16 · 2026-11-27 (lora_alpha 32)")
    assert "# support-bot v2 · r16 · 2026-11-27 (lora_alpha 32)\n" in markdown


@pytest.mark.django_db
def test_the_served_card_escapes_a_renamed_model(alice, alice_client):
    job = make_job(alice, dataset=make_dataset(alice, name="[data](javascript:alert(2))"))
    model = make_artifact(alice, job=job, name="Support bot")
    name = "[x](javascript:alert(1))"
    assert (
        alice_client.patch(f"/api/models/{model.pk}", {"name": name}, content_type="application/json").status_code
        == 200
    )

    response = alice_client.get(f"/api/models/{model.pk}/card")

    assert response.status_code == 200
    elements = rendered(response.content.decode())
    assert elements.headings == [name]
    assert links(elements) == []
    assert "javascript:alert(2)" in response.content.decode()  # the dataset's name is there, as text
