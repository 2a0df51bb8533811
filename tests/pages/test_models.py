"""Model pages: the list (cards, sort, filters, pagination) and the detail page with its downloads."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from artifacts.models import DownloadGrant, ModelArtifact
from pipeline.models import MetricsPoint
from tests.factories import add_file, add_history, make_artifact, make_dataset, make_job
from tests.page_text import card_names, text

pytestmark = pytest.mark.django_db


def artifact(user, name: str, score: int = 4, age_days: float = 0, dataset=None, convergence: str = "good"):
    job = make_job(user, dataset=dataset)
    return make_artifact(
        user,
        job=job,
        score=score,
        name=name,
        created_at=timezone.now() - timedelta(days=age_days),
        quality_metrics={
            "overall_score": score,
            "convergence_quality": convergence,
            "final_training_loss": 0.51234,
            "loss_improvement": 71.26,
        },
    )


# --- Models list ---------------------------------------------------------------------------------


def test_list_shows_cards_with_stars_dataset_badge_date_and_cost(alice, alice_client):
    dataset = make_dataset(alice, name="Support chats")
    model = artifact(alice, "Support model", score=4, dataset=dataset)
    response = alice_client.get("/models")
    assert response.status_code == 200
    page = text(response)
    assert "Model Artifacts" in page
    assert "1 model total" in page
    assert "Support model" in page
    assert 'aria-label="4 out of 5 stars"' in response.content.decode()
    assert "Support chats" in page
    assert "good" in page
    assert model.created_at.strftime("%b") in page
    assert "$12.50" in page
    assert f'href="/models/{model.pk}"' in response.content.decode()
    assert "View Details" in page


def test_list_shows_only_own_live_models(alice, bob, alice_client):
    artifact(alice, "Mine")
    artifact(bob, "Bobs model")
    gone = artifact(alice, "Deleted one")
    ModelArtifact.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    response = alice_client.get("/models")
    assert card_names(response) == ["Mine"]
    assert "1 model total" in text(response)


def test_sort_by_quality_changes_the_order(alice, alice_client):
    artifact(alice, "Newest, fair", score=3, age_days=0)
    artifact(alice, "Older, excellent", score=5, age_days=2)
    artifact(alice, "Oldest, good", score=4, age_days=4)
    assert card_names(alice_client.get("/models")) == ["Newest, fair", "Older, excellent", "Oldest, good"]
    assert card_names(alice_client.get("/models?sort=quality")) == ["Older, excellent", "Oldest, good", "Newest, fair"]
    # An unknown sort falls back to the default instead of failing.
    assert card_names(alice_client.get("/models?sort=bogus")) == ["Newest, fair", "Older, excellent", "Oldest, good"]


def test_filters_by_dataset_stars_and_convergence(alice, bob, alice_client):
    legal = make_dataset(alice, name="Legal")
    code = make_dataset(alice, name="Code")
    artifact(alice, "Legal great", score=5, dataset=legal, convergence="excellent")
    artifact(alice, "Legal poor", score=2, dataset=legal, convergence="poor")
    artifact(alice, "Code good", score=4, dataset=code, convergence="good")
    strangers = make_dataset(bob, name="Bob data")
    artifact(bob, "Bob model", dataset=strangers)

    assert sorted(card_names(alice_client.get(f"/models?dataset={legal.pk}"))) == ["Legal great", "Legal poor"]
    assert sorted(card_names(alice_client.get("/models?min_score=4"))) == ["Code good", "Legal great"]
    assert card_names(alice_client.get("/models?convergence=poor")) == ["Legal poor"]
    response = alice_client.get(f"/models?dataset={legal.pk}&min_score=3")
    assert card_names(response) == ["Legal great"]
    assert "3 models total" in text(response) and "1 matches these filters" in text(response)
    # Only the user's own datasets are offered, and a stranger's dataset id filters nothing.
    page = alice_client.get("/models").content.decode()
    assert "Bob data" not in page
    assert len(card_names(alice_client.get(f"/models?dataset={strangers.pk}"))) == 3


def test_filtered_list_with_no_match_offers_to_clear_filters(alice, alice_client):
    artifact(alice, "Only", score=2)
    page = text(alice_client.get("/models?min_score=5"))
    assert "No models match these filters" in page
    assert "No models yet" not in page


def test_pagination_twelve_per_page(alice, alice_client):
    for i in range(14):
        artifact(alice, f"Model {i:02d}", age_days=i)
    first = alice_client.get("/models")
    assert len(card_names(first)) == 12
    assert "Page 1 of 2" in text(first)
    assert "14 models total" in text(first)
    assert 'href="?sort=created_at&amp;page=2"' in first.content.decode()
    second = alice_client.get("/models?page=2")
    assert card_names(second) == ["Model 12", "Model 13"]
    assert "Page 2 of 2" in text(second)
    # Out-of-range or junk page numbers still show a page.
    assert alice_client.get("/models?page=99").status_code == 200
    assert alice_client.get("/models?page=abc").status_code == 200


def test_list_query_count_does_not_grow_with_models(alice, alice_client, django_assert_max_num_queries):
    for i in range(12):
        artifact(alice, f"Model {i}", dataset=make_dataset(alice, name=f"D{i}"))
    with django_assert_max_num_queries(9):
        response = alice_client.get("/models")
    assert len(card_names(response)) == 12


def test_empty_state(alice_client):
    page = text(alice_client.get("/models"))
    assert "0 models total" in page
    assert "No models yet" in page
    assert "View training jobs" in page


# --- Model detail --------------------------------------------------------------------------------


@pytest.fixture
def model(alice):
    dataset = make_dataset(alice, name="Support chats")
    job = make_job(alice, dataset=dataset)
    add_history(job, [(2.0, 2.1), (1.2, None), (0.8, 0.9), (0.5, 0.6)])
    artifact = make_artifact(alice, job=job, score=4, name="Support model")
    add_file(artifact, "adapter_config.json", b'{"base_model_name_or_path": "mistralai/Mistral-7B-v0.1", "r": 16}')
    add_file(artifact, "adapter_model.safetensors", b"\x00" * 5000)
    return artifact


def test_detail_shows_metrics_configuration_dataset_files_and_links(model, alice_client):
    response = alice_client.get(f"/models/{model.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    page = text(response)
    assert 'href="/models"' in html and "Back to models" in page
    assert "Support model" in page and "Dataset: Support chats" in page
    assert 'aria-label="4 out of 5 stars"' in html
    assert "4/5" in page
    assert "0.5000" in page and "70.0% improved" in page
    assert "2.0h" in page and "3 epochs" in page
    assert "$12.50" in page
    for label, value in [
        ("Preset", "balanced"),
        ("Learning Rate", "0.0002"),
        ("Batch Size", "8"),
        ("Epochs", "3"),
        ("LoRA Rank", "16"),
        ("GPU Type", "A100-80GB"),
        ("GPU Count", "2x"),
    ]:
        assert f"{label} {value}" in page
    assert "Dataset Information" in page and "1,000" in page and "250.0K" in page
    assert "adapter_model.safetensors" in page and "4.9 KiB" in page
    sha = model.files.get(filename="adapter_model.safetensors").sha256
    assert sha in html
    assert 'name="files" value="adapter_model.safetensors"' in html
    assert "Download All Files" in page and "Clear Selection" in page
    assert f'data-api="/api/models/{model.pk}/download"' in html
    assert f'href="/training/jobs/{model.job_id}"' in html and "View Job" in page
    assert 'PeftModel.from_pretrained(base, "./support-model")' in html
    assert "mistralai/Mistral-7B-v0.1" in html


def test_detail_chart_is_server_side_svg_with_axes_and_legend(model, alice_client):
    html = alice_client.get(f"/models/{model.pk}").content.decode()
    assert html.count('<svg class="chart__svg"') == 2  # wide and phone layouts
    assert '<title id="loss-chart-wide-title">Training and validation loss by step</title>' in html
    assert "Training loss goes from 2.0000 at step 0 to 0.5000 at step 30" in html
    assert ">Step</text>" in html and ">Loss</text>" in html
    assert ">Validation loss</text>" in html
    assert "Show the data as a table" in html


def test_detail_tolerates_missing_configuration_and_metrics(alice, alice_client):
    job = make_job(alice, hyperparameters={}, gpu_config={})
    broken = make_artifact(
        alice, job=job, configuration={"hyperparameters": {}}, quality_metrics={}, training_summary={}
    )
    response = alice_client.get(f"/models/{broken.pk}")
    assert response.status_code == 200
    page = text(response)
    for label in ["Preset", "Learning Rate", "Batch Size", "Epochs", "LoRA Rank", "GPU Type", "GPU Count"]:
        assert f"{label} —" in page
    assert "No training metrics were recorded" in page
    assert "No artifact files available for download" in page
    assert "BASE_MODEL_ID" in page


def test_detail_of_diverged_run_draws_a_broken_line(alice, alice_client):
    job = make_job(alice)
    add_history(job, [(2.0, None), (1.0, None), (50000.0, None), (None, None)])
    diverged = make_artifact(
        alice,
        job=job,
        score=1,
        quality_metrics={
            "overall_score": 1,
            "convergence_quality": "diverged",
            "final_training_loss": None,
            "loss_improvement": None,
        },
    )
    response = alice_client.get(f"/models/{diverged.pk}")
    assert response.status_code == 200
    page = text(response)
    assert "Final Loss —" in page and "diverged" in page
    assert "logarithmic" in page
    assert "not a finite number at 1 step" in page


def test_someone_elses_or_deleted_model_is_404(model, bob_client, alice_client):
    assert bob_client.get(f"/models/{model.pk}").status_code == 404
    assert bob_client.post(f"/models/{model.pk}/download", {"scope": "all"}).status_code == 404
    ModelArtifact.objects.filter(pk=model.pk).update(deleted_at=timezone.now())
    assert alice_client.get(f"/models/{model.pk}").status_code == 404


def test_anonymous_detail_goes_to_login(model, client):
    response = client.get(f"/models/{model.pk}")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_download_form_without_javascript(model, alice, alice_client):
    one = alice_client.post(f"/models/{model.pk}/download", {"scope": "selected", "files": ["adapter_config.json"]})
    assert one.status_code == 303
    fetched = alice_client.get(one["Location"])  # the signed URL itself
    assert fetched.status_code == 200
    assert b"".join(fetched.streaming_content).startswith(b'{"base_model_name_or_path"')
    assert "attachment" in fetched["Content-Disposition"]
    several = alice_client.post(f"/models/{model.pk}/download", {"scope": "all"})
    assert several.status_code == 200
    page = text(several)
    assert "adapter_config.json" in page and "adapter_model.safetensors" in page
    assert DownloadGrant.objects.filter(artifact=model, user=alice).count() == 2
    assert alice_client.get(f"/models/{model.pk}/download").status_code == 405
    bad = alice_client.post(f"/models/{model.pk}/download", {"scope": "selected", "files": ["../etc/passwd"]})
    assert bad.status_code == 400 and "Unknown file name" in text(bad)


def test_download_form_when_links_cannot_be_signed_goes_back_with_a_message(model, alice_client, monkeypatch):
    def failing(key, filename, ttl):
        raise RuntimeError("no URL configuration")

    monkeypatch.setattr("artifacts.services.grants.download_link", failing)

    response = alice_client.post(f"/models/{model.pk}/download", {"scope": "all"})

    assert response.status_code == 302
    assert response["Location"] == f"/models/{model.pk}"
    page = text(alice_client.get(response["Location"]))
    assert "Failed to generate download URLs" in page and "please try again" in page
    assert not DownloadGrant.objects.exists()
    model.refresh_from_db()
    assert model.links_handed_out == 0


# --- PEFT snippet --------------------------------------------------------------------------------

INJECTION = 'x"); import os; os.system("rm -rf ~"); ("'


def peft_line(response) -> str:
    """The base model line of the snippet as the user copies it (entities decoded)."""
    snippet = re.search(r'<code id="peft-snippet">(.*?)</code>', response.content.decode(), re.S)
    assert snippet is not None
    line = next(line for line in snippet.group(1).splitlines() if line.startswith("base = "))
    return html_lib.unescape(line)


@pytest.mark.parametrize("source", ["configuration", "training_summary", "adapter_config"])
def test_peft_snippet_never_pastes_code_from_the_cluster(alice, alice_client, source):
    config = {"base_model_name_or_path": INJECTION}
    extra = {source: {**config, "hyperparameters": {}}} if source != "adapter_config" else {}
    artifact = make_artifact(alice, **extra)
    if source == "adapter_config":
        add_file(artifact, "adapter_config.json", json.dumps(config).encode())

    response = alice_client.get(f"/models/{artifact.pk}")

    assert response.status_code == 200
    assert "os.system" not in response.content.decode()
    assert peft_line(response).startswith('base = AutoModelForCausalLM.from_pretrained("BASE_MODEL_ID")')


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", True),
        ("gpt2", True),
        ("mistralai/Mistral-7B-v0.1", True),
        ("../../etc/passwd", False),
        ("org/../secret", False),
        ("/abs/path", False),
        ("a/b/c", False),
        ("org/model\nimport os", False),
        ("org/model name", False),
        ("x" * 97, False),
        ("_org/model", False),
        ("org/modèle", False),
    ],
)
def test_peft_snippet_accepts_only_a_hugging_face_repo_id(alice, alice_client, name, shown):
    artifact = make_artifact(alice, configuration={"base_model": name})

    line = peft_line(alice_client.get(f"/models/{artifact.pk}"))

    expected = name if shown else "BASE_MODEL_ID"
    assert line.startswith(f'base = AutoModelForCausalLM.from_pretrained("{expected}")')


# --- Long runs -----------------------------------------------------------------------------------


def test_a_ten_thousand_point_run_keeps_the_page_small_and_draws_the_last_point(alice, alice_client):
    job = make_job(alice)
    start = job.started_at
    MetricsPoint.objects.bulk_create(
        MetricsPoint(
            job=job,
            timestamp=start + timedelta(seconds=i),
            step=i * 10,
            training_loss=2.0 / i,
            validation_loss=2.2 / i,
        )
        for i in range(1, 10_001)
    )
    model = make_artifact(alice, job=job)

    for url in (f"/models/{model.pk}", f"/training/jobs/{job.pk}"):
        response = alice_client.get(url)
        html = response.content.decode()

        assert response.status_code == 200
        assert len(response.content) < 250_000
        wide = re.search(r'<svg class="chart__svg"[^>]*>.*?</svg>', html, re.S)
        assert wide is not None
        lines = re.findall(r'<polyline class="chart__line chart__line--train" points="([^"]*)"', wide.group(0))
        drawn = " ".join(lines).split()
        assert 2 <= len(drawn) <= 500
        # Steps 10 … 100,000 on an axis from 0 to 100,000: the last point sits on the right edge.
        assert drawn[0].startswith("64.1,") and drawn[-1].startswith("940.0,")
        assert wide.group(0).count('<circle class="chart__dot chart__line--val"') <= 500
        assert "Showing 200 of 10,000 points" in text(response)
        assert len(re.findall(r"<tr><td>", html)) == 200
        assert "<tr><td>10</td>" in html and "<tr><td>100000</td>" in html
        # The description still speaks about the whole run.
        assert "to 0.0002 at step 100,000 over 10,000 points" in html
