"""Server-rendered pages: models list and detail, job page, notifications, 404 — content and isolation."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from artifacts.models import ArtifactIngest, DownloadGrant, ModelArtifact
from pipeline.models import MetricsPoint, Notification, TrainingJob
from tests.factories import add_file, add_history, make_artifact, make_dataset, make_job

pytestmark = pytest.mark.django_db


def text(response) -> str:
    """Visible text of a page with tags stripped and whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def card_names(response) -> list[str]:
    return re.findall(r'data-testid="model-name">.*?<span>(.*?)</span>', response.content.decode(), re.S)


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


def test_anonymous_visitor_is_sent_to_login(client):
    for url in ["/models", "/training/jobs", "/notifications"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


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
    assert sorted(card_names(alice_client.get("/models?min_stars=4"))) == ["Code good", "Legal great"]
    assert card_names(alice_client.get("/models?convergence=poor")) == ["Legal poor"]
    response = alice_client.get(f"/models?dataset={legal.pk}&min_stars=3")
    assert card_names(response) == ["Legal great"]
    assert "3 models total" in text(response) and "1 matches these filters" in text(response)
    # Only the user's own datasets are offered, and a stranger's dataset id filters nothing.
    page = alice_client.get("/models").content.decode()
    assert "Bob data" not in page
    assert len(card_names(alice_client.get(f"/models?dataset={strangers.pk}"))) == 3


def test_filtered_list_with_no_match_offers_to_clear_filters(alice, alice_client):
    artifact(alice, "Only", score=2)
    page = text(alice_client.get("/models?min_stars=5"))
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
    assert "adapter_model.safetensors" in page and "4.9 KB" in page
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


def test_download_form_when_storage_cannot_sign_goes_back_with_a_message(model, alice_client, monkeypatch):
    class FailingBackend:
        def signed_url(self, key, filename, ttl):
            raise RuntimeError("Supabase answered 500")

    monkeypatch.setattr("artifacts.services.downloads.artifact_storage", FailingBackend)

    response = alice_client.post(f"/models/{model.pk}/download", {"scope": "all"})

    assert response.status_code == 302
    assert response["Location"] == f"/models/{model.pk}"
    page = text(alice_client.get(response["Location"]))
    assert "Failed to generate download URLs" in page and "please try again" in page
    assert not DownloadGrant.objects.exists()
    model.refresh_from_db()
    assert model.download_count == 0


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


# --- Job page ------------------------------------------------------------------------------------


def test_job_page_shows_status_timestamps_configuration_and_chart(alice, alice_client):
    job = make_job(alice, dataset=make_dataset(alice, name="Legal"), hyperparameters={"learning_rate": 0.0001})
    add_history(job, [(1.5, 1.6), (0.9, 1.0)])
    response = alice_client.get(f"/training/jobs/{job.pk}")
    assert response.status_code == 200
    page = text(response)
    assert "Completed" in page and "Dataset: Legal" in page
    assert "Learning Rate 0.0001" in page and "Batch Size —" in page
    assert "Started" in page and job.started_at.strftime("%b") in page
    assert "chart__svg" in response.content.decode()
    assert "Waiting to fetch the model files" in page


def test_job_page_artifact_states(alice, alice_client):
    job = make_job(alice)
    ingest = ArtifactIngest.objects.create(
        job=job,
        state=ArtifactIngest.State.RUNNING,
        bytes_done=5 * 1024 * 1024,
        bytes_total=20 * 1024 * 1024,
        current_file="adapter_model.safetensors",
        attempts=1,
    )
    response = alice_client.get(f"/training/jobs/{job.pk}")
    html = response.content.decode()
    assert '<progress id="ingest-progress" max="20971520" value="5242880">' in html
    assert "5.0 MB of 20.0 MB (25%)" in text(response)

    ArtifactIngest.objects.filter(pk=ingest.pk).update(
        state=ArtifactIngest.State.FAILED, attempts=5, last_error="checksum mismatch for adapter_model.safetensors"
    )
    page = text(alice_client.get(f"/training/jobs/{job.pk}"))
    assert "Reason: checksum mismatch for adapter_model.safetensors" in page
    assert "Retry" in page

    model = make_artifact(alice, job=job)
    ArtifactIngest.objects.filter(pk=ingest.pk).update(state=ArtifactIngest.State.SUCCEEDED)
    response = alice_client.get(f"/training/jobs/{job.pk}")
    assert f'href="/models/{model.pk}"' in response.content.decode()
    assert "Ready." in text(response)


def test_retry_button_resets_a_failed_ingest(alice, alice_client, django_capture_on_commit_callbacks):
    job = make_job(alice)
    ArtifactIngest.objects.create(job=job, state=ArtifactIngest.State.FAILED, attempts=5, last_error="boom")
    from unittest import mock

    with mock.patch("artifacts.tasks.ingest_job.delay") as delay, django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/training/jobs/{job.pk}/retry", follow=True)
    assert response.status_code == 200
    assert "Retry scheduled" in text(response)
    ingest = ArtifactIngest.objects.get(job=job)
    assert ingest.state == ArtifactIngest.State.PENDING and ingest.attempts == 0
    delay.assert_called_once_with(str(job.pk))


def test_retry_needs_post_and_ownership(alice, bob_client, alice_client):
    job = make_job(alice)
    ArtifactIngest.objects.create(job=job, state=ArtifactIngest.State.FAILED, attempts=5)
    assert alice_client.get(f"/training/jobs/{job.pk}/retry").status_code == 405
    assert bob_client.post(f"/training/jobs/{job.pk}/retry").status_code == 404
    assert ArtifactIngest.objects.get(job=job).state == ArtifactIngest.State.FAILED


def test_someone_elses_job_is_404(alice, bob_client):
    job = make_job(alice)
    assert bob_client.get(f"/training/jobs/{job.pk}").status_code == 404


def test_job_list_shows_own_jobs_with_model_links(alice, bob, alice_client):
    model = make_artifact(alice, job=make_job(alice, external_job_id="sim-alice-1"))
    make_job(alice, status=TrainingJob.Status.RUNNING, external_job_id="sim-alice-2")
    make_job(bob, external_job_id="sim-bob-1")
    response = alice_client.get("/training/jobs")
    page = text(response)
    assert "sim-alice-1" in page and "sim-alice-2" in page and "sim-bob-1" not in page
    assert f'href="/models/{model.pk}"' in response.content.decode()


def test_job_list_says_when_storing_the_files_failed_or_is_under_way(
    alice, alice_client, django_assert_max_num_queries
):
    failed = make_job(alice, external_job_id="sim-broken")
    ArtifactIngest.objects.create(job=failed, state=ArtifactIngest.State.FAILED, last_error="HTTP 404")
    busy = make_job(alice, external_job_id="sim-busy")
    ArtifactIngest.objects.create(job=busy, state=ArtifactIngest.State.RUNNING)
    make_job(alice, external_job_id="sim-waiting")
    with django_assert_max_num_queries(8):
        html = alice_client.get("/training/jobs").content.decode()
    rows = {
        job: row
        for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)
        for job in ("sim-broken", "sim-busy", "sim-waiting")
        if job in row
    }
    assert "Storing failed" in rows["sim-broken"] and f'href="/training/jobs/{failed.pk}"' in rows["sim-broken"]
    assert "Storing…" in rows["sim-busy"]
    assert "Storing" not in rows["sim-waiting"]


def test_job_list_shows_a_zero_final_cost_as_zero(alice, alice_client):
    make_job(alice, external_job_id="sim-free", final_cost=Decimal("0.00"), estimated_total_cost=Decimal("20.00"))
    make_job(alice, external_job_id="sim-running", final_cost=None, estimated_total_cost=Decimal("7.25"))

    rows = re.findall(r"<tr>(.*?)</tr>", alice_client.get("/training/jobs").content.decode(), re.S)
    cost = {
        job: re.search(r'data-label="Cost">(.*?)</td>', row, re.S).group(1)  # type: ignore[union-attr]
        for row in rows
        for job in ("sim-free", "sim-running")
        if job in row
    }

    assert cost == {"sim-free": "$0.00", "sim-running": "$7.25"}


# --- Notifications -------------------------------------------------------------------------------


def notify(user, title: str, minutes_ago: int = 0, read: bool = False, action_url: str = "/models"):
    return Notification.objects.create(
        user=user,
        type="artifact_ready",
        title=title,
        message=f"{title} message",
        priority="high",
        action_url=action_url,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
        read_at=timezone.now() if read else None,
    )


def bell_count(response) -> int:
    match = re.search(r'data-testid="unread-count">(\d+)<', response.content.decode())
    return int(match.group(1)) if match else 0


def test_notifications_unread_first_with_links(alice, bob, alice_client):
    notify(alice, "Old unread", minutes_ago=30)
    notify(alice, "Newer read", minutes_ago=5, read=True)
    notify(alice, "Newest unread", minutes_ago=1, action_url="/models/123")
    notify(alice, "Evil link", minutes_ago=60, read=True, action_url="javascript:alert(1)")
    notify(bob, "Bob only")
    response = alice_client.get("/notifications")
    html = response.content.decode()
    titles = re.findall(r'data-testid="notification">.*?class="inbox__title">(.*?)</p>', html, re.S)
    plain = [re.sub(r"<[^>]+>|Unread: |High", "", t).strip() for t in titles]
    assert plain == ["Newest unread", "Old unread", "Newer read", "Evil link"]
    newest = Notification.objects.get(title="Newest unread")
    assert f'href="/notifications/{newest.pk}/open"' in html
    assert alice_client.get(f"/notifications/{newest.pk}/open")["Location"] == "/models/123"
    assert "javascript:" not in html
    assert "Bob only" not in html
    assert bell_count(response) == 2


def test_bell_lists_latest_five(alice, alice_client):
    for i in range(7):
        notify(alice, f"Note {i}", minutes_ago=i)
    html = alice_client.get("/models").content.decode()
    assert re.findall(r'class="bell__title">.*?(Note \d)</span>', html, re.S) == [f"Note {i}" for i in range(5)]


def test_mark_read_lowers_the_bell_count(alice, bob, alice_client, bob_client):
    first = notify(alice, "First")
    notify(alice, "Second")
    assert bell_count(alice_client.get("/models")) == 2
    assert bob_client.post(f"/notifications/{first.pk}/read").status_code == 404
    response = alice_client.post(f"/notifications/{first.pk}/read", follow=True)
    assert bell_count(response) == 1
    response = alice_client.post("/notifications/read-all", {"next": "/models"}, follow=True)
    assert response.redirect_chain[-1][0] == "/models"
    assert bell_count(response) == 0
    assert "Marked 1 notification as read." in text(response)
    assert alice_client.get(f"/notifications/{first.pk}/read").status_code == 405
    # An off-site "next" is ignored.
    response = alice_client.post("/notifications/read-all", {"next": "https://evil.example/"})
    assert response["Location"] == "/notifications"


def test_following_a_notification_link_marks_it_read(alice, alice_client):
    note = notify(alice, "Model ready", action_url="/models")
    notify(alice, "Another")
    inbox = alice_client.get("/notifications").content.decode()
    bell_html = alice_client.get("/training/jobs").content.decode()
    link = f'href="/notifications/{note.pk}/open"'
    assert link in inbox and link in bell_html

    response = alice_client.get(f"/notifications/{note.pk}/open", follow=True)

    assert response.redirect_chain == [("/models", 302)]
    assert bell_count(response) == 1
    note.refresh_from_db()
    assert note.read_at is not None
    first_read = note.read_at
    alice_client.get(f"/notifications/{note.pk}/open")  # following it again keeps the first read time
    note.refresh_from_db()
    assert note.read_at == first_read


@pytest.mark.parametrize(
    "action_url", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""]
)
def test_opening_a_notification_never_leaves_the_site(alice, alice_client, action_url):
    note = notify(alice, "Suspicious", action_url=action_url)

    response = alice_client.get(f"/notifications/{note.pk}/open")

    assert response.status_code == 302 and response["Location"] == "/notifications"
    note.refresh_from_db()
    assert note.read_at is not None


def test_opening_someone_elses_notification_is_404(alice, bob_client, client):
    note = notify(alice, "Alice only")
    assert bob_client.get(f"/notifications/{note.pk}/open").status_code == 404
    assert "/accounts/login/" in client.get(f"/notifications/{note.pk}/open")["Location"]
    note.refresh_from_db()
    assert note.read_at is None


# --- Layout and errors ---------------------------------------------------------------------------


def test_layout_has_navigation_bell_user_menu_and_toasts(alice, alice_client):
    response = alice_client.post("/notifications/read-all", follow=True)
    html = response.content.decode()
    assert 'href="/models"' in html and 'href="/training/jobs"' in html
    assert 'aria-label="Notifications, 0 unread"' in html
    assert "alice" in html and "Log out" in html
    assert 'class="skip-link"' in html
    assert "/static/css/app.css" in html and "/static/js/app.js" in html


def test_404_page_with_debug_off(settings, alice_client):
    settings.DEBUG = False
    response = alice_client.get("/models/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    page = text(response)
    assert "Page not found" in page and "Go to your models" in page
    assert 'href="/training/jobs"' in response.content.decode()  # the normal layout, signed in
    assert alice_client.get("/no/such/page").status_code == 404


def test_job_page_retrying_state_shows_the_last_error_not_a_stale_progress_bar(alice, alice_client):
    job = make_job(alice)
    ArtifactIngest.objects.create(
        job=job,
        state=ArtifactIngest.State.RETRYING,
        attempts=2,
        bytes_done=100,
        bytes_total=100,
        last_error="HTTP 503 from the cluster",
        next_attempt_at=timezone.now() + timedelta(minutes=4),
    )
    response = alice_client.get(f"/training/jobs/{job.pk}")
    page = text(response)
    assert "Retrying after attempt 2 failed" in page and "next attempt in 3 minutes" in page
    assert "Last error: HTTP 503 from the cluster" in page
    assert "<progress" not in response.content.decode()
    assert 'data-autorefresh="5"' in response.content.decode()


def test_job_list_pages_with_previous_and_next(alice, alice_client):
    from artifacts import job_views as views

    for i in range(views.JOBS_PER_PAGE + 1):
        make_job(alice, external_job_id=f"sim-page-{i}")
    first = alice_client.get("/training/jobs").content.decode()
    assert "Page 1 of 2" in first and 'href="?page=2" rel="next"' in first
    second = alice_client.get("/training/jobs?page=2").content.decode()
    assert "Page 2 of 2" in second and 'href="?page=1" rel="prev"' in second
