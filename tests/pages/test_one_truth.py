"""DESIGN §14 on the pages: the verdict first, nothing to load for an unusable model, same numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.lib.numbers import binary_size, format_loss
from tests.factories import add_file, make_artifact, make_job
from tests.page_text import text

pytestmark = pytest.mark.django_db

DIVERGED_MESSAGE = "Training loss rose to 105,340 after step 40."
UNTRAINED_MESSAGE = "Every lora_B matrix is zero: the adapter changes nothing."
DIVERGED_HEALTH = {
    "summary": "The run diverged.",
    "checks": [{"code": "diverged", "status": "fail", "message": DIVERGED_MESSAGE}],
}
UNUSABLE_INSPECTION = {
    "verdict": "unusable",
    "adapter": {"format": "safetensors", "size": 5 * 1024 * 1024},
    "findings": [{"code": "untrained_lora_b", "severity": "error", "message": UNTRAINED_MESSAGE}],
}
CLEAN_INSPECTION = {"verdict": "ok", "adapter": {"format": "safetensors", "size": 2048}, "findings": []}


def diverged_model(user):
    return make_artifact(
        user, name="Diverged run", inspection=CLEAN_INSPECTION, training_health=DIVERGED_HEALTH, verdict="unusable"
    )


def broken_model(user):
    return make_artifact(user, name="Untrained adapter", inspection=UNUSABLE_INSPECTION, verdict="unusable")


def detail(client, model) -> str:
    add_file(model, "adapter_model.safetensors", b"x" * 5000)
    return client.get(f"/models/{model.pk}").content.decode()


@pytest.mark.parametrize("make", [diverged_model, broken_model], ids=["diverged", "inspection"])
def test_an_unusable_model_says_so_before_its_stars_and_its_download_button(alice, alice_client, make):
    model = make(alice)
    page = detail(alice_client, model)
    badge = page.index('data-testid="unusable-badge"')
    assert badge < page.index('class="stars') < page.index("data-download-button")
    assert "No problems" not in page

    listing = alice_client.get("/models").content.decode()
    card = listing.index('data-testid="model-card"')
    assert card < listing.index('data-testid="unusable-badge"') < listing.index('class="stars', card)


@pytest.mark.parametrize("make", [diverged_model, broken_model], ids=["diverged", "inspection"])
def test_an_unusable_model_offers_no_load_snippet_and_says_what_is_wrong(alice, alice_client, make):
    model = make(alice)
    page = detail(alice_client, model)
    assert "PeftModel.from_pretrained" not in page and 'id="peft-snippet"' not in page
    assert "vllm serve" not in page and 'data-copy="#serve-' not in page
    reasons = page.split('data-testid="unusable-reasons"')[1]
    expected = DIVERGED_MESSAGE if make is diverged_model else UNTRAINED_MESSAGE
    assert expected in reasons


def test_a_usable_model_keeps_its_snippet_and_shows_its_verdict_word(alice, alice_client):
    model = make_artifact(alice, name="Fine run", inspection=CLEAN_INSPECTION, verdict="ok")
    page = detail(alice_client, model)
    assert 'id="peft-snippet"' in page and 'data-testid="unusable-reasons"' not in page
    assert page.index('data-verdict="ok"') < page.index('class="stars')

    warned = make_artifact(alice, name="Warned run", verdict="warnings")
    page = detail(alice_client, warned)
    head = page.split('data-verdict="warnings"')[1]
    assert head.split("</p>")[0].endswith(">Warnings</span>")


def test_the_job_page_shows_the_models_verdict(alice, alice_client):
    model = diverged_model(alice)
    page = alice_client.get(f"/training/jobs/{model.job.pk}").content.decode()
    assert 'data-testid="unusable-badge"' in page and DIVERGED_MESSAGE in page
    assert "<strong>Ready.</strong>" not in page


def test_sizes_use_binary_units(alice, alice_client):
    model = make_artifact(alice, inspection=UNUSABLE_INSPECTION, verdict="unusable")
    add_file(model, "adapter_model.safetensors", b"x" * 5000)
    page = text(alice_client.get(f"/models/{model.pk}"))
    assert "4.9 KiB" in page and "5.0 MiB" in page  # a file, and the inspected weights
    assert " KB" not in page and " MB" not in page
    assert binary_size(512) == "512 B" and binary_size(3 * 1024**3) == "3.0 GiB" and binary_size(None) == "—"


def test_compare_shows_the_same_trained_date_and_losses_as_the_detail_page(alice, alice_client):
    completed = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    health = {"best_validation_loss": 0.123456, "best_step": 20, "smoothed_final_training_loss": 0.5, "checks": []}
    first = make_artifact(alice, job=make_job(alice, completed_at=completed), training_health=health)
    second = make_artifact(alice, training_health=health)
    compare = alice_client.get(f"/models/compare?ids={first.pk},{second.pk}").content.decode()
    trained = compare.split('data-testid="compared-trained"')[1].split("</p>")[0]
    assert "Mar 4, 2026, 05:06" in trained and first.created_at.strftime("%b %-d, %Y") not in trained
    page = alice_client.get(f"/models/{first.pk}").content.decode()
    assert "Mar 4, 2026, 05:06" in page.split('data-testid="trained"')[1].split("</span>")[0]
    compared = text(alice_client.get(f"/models/compare?ids={first.pk},{second.pk}"))
    assert f"{format_loss(0.123456)} at step 20" in compared and format_loss(0.5) == "0.5000" in compared
    assert "Final Loss 0.5000" in text(alice_client.get(f"/models/{first.pk}"))  # one format on both


def test_the_list_page_filters_on_the_verdict(alice, alice_client):
    from tests.factories import make_artifact

    make_artifact(alice, name="Fine model", verdict="ok")
    make_artifact(alice, name="Broken model", verdict="unusable")
    page = alice_client.get("/models?verdict=ok,warnings").content.decode()
    assert "Fine model" in page and "Broken model" not in page
    assert '<option value="ok,warnings" selected>' in page  # the form keeps the choice
    only_bad = alice_client.get("/models?verdict=unusable").content.decode()
    assert "Broken model" in only_bad and "Fine model" not in only_bad
    ignored = alice_client.get("/models?verdict=fine").content.decode()
    assert "Fine model" in ignored and "Broken model" in ignored and "is not a verdict" in ignored
