"""The model pages never contradict the training health checks (issue 11's contradictions, one by one)."""

from __future__ import annotations

import re

import pytest

from tests.factories import add_file, add_history, make_job
from tests.health_runs import demo_artifact, scored_artifact
from tests.page_text import text

pytestmark = pytest.mark.django_db


def detail(client, artifact):
    response = client.get(f"/models/{artifact.pk}")
    assert response.status_code == 200
    return response


def element(html: str, testid: str) -> str:
    """The opening tag of the element with ``data-testid=testid``."""
    match = re.search(rf'<[^>]*data-testid="{testid}"[^>]*>', html)
    assert match, f"no element {testid!r}"
    return match.group(0)


def quality_card(html: str) -> str:
    match = re.search(r'<div class="card metric">\s*<h2 class="metric__label">(.*?)</div>', html, re.S)
    assert match
    return match.group(1)


# --- Overfit: no green "improved", validation loss in the headline, chart marked -----------------


def test_overfit_run_shows_no_green_improvement_and_leads_with_validation_loss(alice, alice_client):
    artifact = demo_artifact(alice, "overfitting")
    health = artifact.training_health
    response = detail(alice_client, artifact)
    html, page = response.content.decode(), text(response)

    improvement = element(html, "improvement")
    assert "text-success" not in improvement
    assert "% improved" in page  # the number is still there, just not good news
    best = health["best_step"]
    assert "Validation Loss" in page
    assert f"best {health['best_validation_loss']:.4f} at step {best:,}" in page
    assert "overfits" in text_of(html, "rating-caveat")
    # The chart marks the best step, which is where overfitting starts.
    assert 'data-marker="Best · overfits after"' in html
    assert f"lowest validation loss at step {best}" in page
    # Quality card: no green check beside a run that overfits.
    assert "icon--success" not in quality_card(html)


def text_of(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</p>', html, re.S)
    assert match, f"no element {testid!r}"
    return re.sub(r"<[^>]+>", "", match.group(1))


def test_a_healthy_run_keeps_its_green_improvement_and_check(alice, alice_client):
    artifact = demo_artifact(alice, "good")
    html = detail(alice_client, artifact).content.decode()
    assert "text-success" in element(html, "improvement")
    assert "icon--success" in quality_card(html)
    assert 'data-testid="rating-caveat"' not in html
    assert 'data-testid="download-warning"' not in html


# --- No validation: says the rating rests on training loss alone --------------------------------


def test_run_without_validation_says_its_rating_rests_on_training_loss_alone(alice, alice_client):
    artifact = demo_artifact(alice, "no-validation")
    assert artifact.quality_metrics["convergence_quality"] == "excellent"
    response = detail(alice_client, artifact)
    html, page = response.content.decode(), text(response)
    assert "rests on training loss alone" in page
    assert "Rated on training loss alone" in text_of(html, "rating-caveat")
    # Never an unqualified "Excellent": the Quality card qualifies it.
    assert "Excellent · on training loss alone" in page
    assert "Validation Loss" not in page and "Final Loss" in page
    assert "icon--success" not in quality_card(html)


# --- Diverged: a warning before the download button, no JavaScript needed -----------------------


def test_diverged_run_warns_before_the_download_button(alice, alice_client):
    artifact = demo_artifact(alice, "diverged")
    add_file(artifact, "adapter_model.safetensors", b"\x00" * 64)
    html = detail(alice_client, artifact).content.decode()
    warning = html.index('data-testid="download-warning"')
    download_form = html.index(f'action="/models/{artifact.pk}/download"')
    assert warning < download_form < html.index("data-download-button")
    block = html[warning : html.index("</div>", warning)]
    assert "hidden" not in element(html, "download-warning")  # server-rendered, shown without JS
    assert "NaN or infinite" in block and "Test it before relying on it" in block
    # Quality icon follows severity: a red alert, never a green check on "1/5 Diverged".
    card = quality_card(html)
    assert "icon--danger" in card and "icon--success" not in card
    assert "1/5" in card


# --- Why this rating: the checks and the published rule --------------------------------------


def test_why_this_rating_lists_every_check_and_the_scoring_rule(alice, alice_client):
    artifact = demo_artifact(alice, "overfitting")
    response = detail(alice_client, artifact)
    html, page = response.content.decode(), text(response)
    assert "Why this rating" in page
    for check in artifact.training_health["checks"]:
        assert f'data-check="{check["code"]}"' in html
        assert check["message"].split(":")[0] in page
    assert "5 stars (excellent): the final training loss is below 0.5" in page
    assert "A run without any logged metrics gets 3 stars (unknown)." in page
    assert "takes 1 star off" in page  # this run's own reason: the seed's overfitting penalty


# --- No metrics at all: 3 stars kept, but plainly "no history" ----------------------------------


def test_run_without_metrics_says_there_was_no_history_on_page_and_card(alice, alice_client):
    artifact = scored_artifact(alice, make_job(alice))
    assert artifact.quality_score == 3  # the seed's rule for a run without metrics
    response = detail(alice_client, artifact)
    html, page = response.content.decode(), text(response)
    assert "No training history was recorded" in text_of(html, "rating-caveat")
    assert "not a sign of quality" in page
    assert "Unknown · no history to judge" in page
    assert "icon--success" not in quality_card(html)

    listing = alice_client.get("/models")
    assert "No history to judge" in text(listing)
    # The seed's "3+ stars" filter still lets it through; the card says why it is there.
    assert str(artifact.name) in text(alice_client.get("/models?min_score=3"))


# --- List cards show what tells runs apart -------------------------------------------------------


def test_list_cards_show_trained_date_preset_rank_learning_rate_validation_loss_and_health(alice, alice_client):
    overfit = demo_artifact(alice, "overfitting")
    demo_artifact(alice, "diverged")
    page = text(alice_client.get("/models"))
    hyper = overfit.configuration["hyperparameters"]
    assert f"Preset · rank {overfit.configuration['preset_id']} · r{hyper['rank']}" in page
    assert "Learning rate 0.0002" in page and "Learning rate 0.003" in page
    assert f"Validation loss {overfit.quality_metrics['final_validation_loss']:.4f}" in page
    assert "Health Overfits" in page and "Health Diverged" in page
    assert "Trained " + overfit.job.completed_at.strftime("%b %-d, %Y") in page


def test_an_artifact_stored_before_health_existed_is_judged_on_the_fly(alice, alice_client):
    job = make_job(alice)
    add_history(job, [(2.0, None), (float("nan"), None)])
    artifact = scored_artifact(alice, job)
    type(artifact).objects.filter(pk=artifact.pk).update(training_health=None)
    html = detail(alice_client, artifact).content.decode()
    assert 'data-testid="download-warning"' in html
    api = alice_client.get(f"/api/models/{artifact.pk}").json()["data"]
    assert {c["code"]: c["status"] for c in api["training_health"]["checks"]}["diverged"] == "fail"
