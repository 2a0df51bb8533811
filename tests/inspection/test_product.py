"""Inspection in the product: ingest over the simulator stores the verdict, and the API, the pages,
the notification, the model card and ``inspect_artifacts`` all tell the owner the truth."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command

from artifacts.models import ModelArtifact
from artifacts.services.ingest import ingest
from artifacts.services.ingest import transfer as transfer_module
from pipeline.models import Notification
from pipeline.simulator.files import AdapterSpec
from pipeline.simulator.server import SimulatorConfig
from tests.conftest import ingest_from, simulator_running
from tests.factories import add_history, make_dataset, make_job

KEY = "inspection-product-key"
ADAPTER_KEYS = {
    "format",
    "peft_type",
    "task_type",
    "base_model",
    "r",
    "lora_alpha",
    "target_modules",
    "tensors",
    "parameters",
    "dtypes",
    "size",
}
WONT_LOAD = "This adapter will not load as delivered."
USELESS = "This adapter loads but is unusable as delivered."


@pytest.fixture
def simulator(tmp_path, settings):
    # The jobs' hyperparameters say rank 16 (tests.factories), so the files agree with them.
    spec = AdapterSpec(rank=16, lora_alpha=32, adapter_bytes=256 * 1024)  # one layer: layers_to_transform [0]
    with simulator_running(SimulatorConfig(api_key=KEY, cache_root=tmp_path / "sim", spec=spec)) as server:
        ingest_from(settings, server, KEY)
        yield server


def ingested(user, external_id: str) -> ModelArtifact:
    job = make_job(user, make_dataset(user, name="Support chats"), external_job_id=external_id)
    add_history(job, [(2.0, 2.1), (0.9, 1.0), (0.5, 0.6)])
    result = ingest(job)
    assert result.success, result.error
    return ModelArtifact.objects.get(job=job)


def ready_message(artifact: ModelArtifact) -> str:
    return Notification.objects.get(type="artifact_ready", metadata__artifact_id=str(artifact.pk)).message


def assert_contract_shape(inspection: dict) -> None:
    assert set(inspection) == {"verdict", "findings", "adapter", "serving"}
    assert inspection["verdict"] in ("ok", "warnings", "unusable")
    assert all(set(f) == {"code", "severity", "message"} for f in inspection["findings"])
    assert set(inspection["adapter"]) == ADAPTER_KEYS
    assert set(inspection["serving"]) == {"peft", "vllm", "lorax", "llama_cpp"}
    for state in inspection["serving"].values():
        assert set(state) == {"ready", "reasons", "command"}


@pytest.mark.django_db
def test_a_good_adapter_is_ok_everywhere(simulator, alice, alice_client):
    artifact = ingested(alice, "sim-insp-good")
    assert artifact.inspection["verdict"] == "ok", artifact.inspection["findings"]

    body = alice_client.get(f"/api/models/{artifact.pk}").json()["data"]["inspection"]
    assert_contract_shape(body)
    assert body["verdict"] == "ok" and body["findings"] == []
    assert body["adapter"]["format"] == "safetensors"
    assert (body["adapter"]["r"], body["adapter"]["lora_alpha"]) == (16, 32)
    assert body["adapter"]["base_model"] == "mistralai/Mistral-7B-v0.1"
    vllm = body["serving"]["vllm"]
    assert vllm["ready"] and vllm["command"].startswith("vllm serve mistralai/Mistral-7B-v0.1 --enable-lora")

    page = alice_client.get(f"/models/{artifact.pk}").content.decode()
    assert WONT_LOAD not in page and USELESS not in page and "This adapter loads, with warnings." not in page
    assert 'data-testid="inspection-verdict">Loads<' in page
    assert vllm["command"].replace("'", "&#x27;") in page  # the exact command, with a copy button
    assert 'data-copy="#serve-vllm"' in page
    assert "will not load" not in ready_message(artifact) and "unusable" not in ready_message(artifact)
    # Issue 11: the message names the model and its health, then the seed's score sentence.
    assert ready_message(artifact).startswith(f'"{artifact.name}" is ready')
    assert ready_message(artifact).endswith(f"Quality score: {artifact.quality_score}/5 stars")
    assert 'data-testid="unusable-badge"' not in alice_client.get("/models").content.decode()


@pytest.mark.django_db
def test_an_untrained_adapter_is_stored_byte_exact_and_called_unusable(simulator, alice, alice_client, artifact_root):
    artifact = ingested(alice, "sim-insp-untrained")
    advertised = simulator.manifest("sim-insp-untrained").files["adapter_model.safetensors"]
    row = artifact.files.get(filename="adapter_model.safetensors")
    assert hashlib.sha256((artifact_root / row.key).read_bytes()).hexdigest() == advertised.sha256

    inspection = alice_client.get(f"/api/models/{artifact.pk}").json()["data"]["inspection"]
    assert_contract_shape(inspection)
    assert inspection["verdict"] == "unusable"
    reason = next(f for f in inspection["findings"] if f["code"] == "untrained_lora_b")
    assert reason["severity"] == "error"
    assert not any(state["ready"] for state in inspection["serving"].values())

    page = alice_client.get(f"/models/{artifact.pk}").content.decode()
    # PEFT loads zero weights without a word: the page says it loads and is useless, not that it fails.
    assert USELESS in page and WONT_LOAD not in page and reason["message"] in page
    assert page.index(USELESS) < page.index("Download All Files")  # seen before the download button
    assert 'data-testid="inspection-verdict">Unusable<' in page
    assert page.index('data-testid="unusable-badge"') < page.index("Loss curve")  # in the header, beside the stars

    message = ready_message(artifact)
    assert message.startswith(f'"{artifact.name}" is stored but not ready to use. Warning:')
    assert message.endswith(f"Quality score: {artifact.quality_score}/5 stars") and "is ready" not in message
    assert "this adapter loads but is unusable as delivered" in message and reason["message"] in message
    assert 'data-testid="unusable-badge"' in alice_client.get("/models").content.decode()


@pytest.mark.django_db
def test_an_adapter_whose_shapes_contradict_its_rank_is_said_not_to_load(simulator, alice, alice_client):
    """A shape PEFT cannot copy into the module is a RuntimeError at load time: "will not load"."""
    artifact = ingested(alice, "sim-insp-rank-mismatch")
    inspection = alice_client.get(f"/api/models/{artifact.pk}").json()["data"]["inspection"]
    assert inspection["verdict"] == "unusable"
    reason = next(f for f in inspection["findings"] if f["code"] == "rank_mismatch")
    page = alice_client.get(f"/models/{artifact.pk}").content.decode()
    assert WONT_LOAD in page and USELESS not in page and reason["message"] in page
    assert page.index(WONT_LOAD) < page.index("Download All Files")
    message = ready_message(artifact)
    assert "Warning: this adapter will not load as delivered. " + reason["message"] in message


@pytest.mark.django_db
def test_a_pickle_only_adapter_is_never_opened_and_warned_about(simulator, alice, alice_client):
    artifact = ingested(alice, "sim-insp-pickle-only")
    assert artifact.files.filter(filename="adapter_model.bin").exists()
    inspection = alice_client.get(f"/api/models/{artifact.pk}").json()["data"]["inspection"]
    assert_contract_shape(inspection)
    assert inspection["verdict"] == "warnings"
    assert inspection["adapter"]["format"] == "pickle"
    assert [f["code"] for f in inspection["findings"]] == ["pickle_format"]
    assert not inspection["serving"]["vllm"]["ready"]
    page = alice_client.get(f"/models/{artifact.pk}").content.decode()
    assert "This adapter loads, with warnings." in page and WONT_LOAD not in page and USELESS not in page
    assert "will not load" not in ready_message(artifact) and "unusable" not in ready_message(artifact)


@pytest.mark.django_db
def test_the_model_card_is_served_to_its_owner_only(simulator, alice, alice_client, bob_client):
    artifact = ingested(alice, "sim-insp-card")
    response = alice_client.get(f"/api/models/{artifact.pk}/card")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.content.decode()
    front = text.split("---\n")[1]
    assert 'base_model: "mistralai/Mistral-7B-v0.1"' in front
    assert 'library_name: "peft"' in front
    assert "## Inspection" in text and "Verdict: **ok**" in text
    assert alice_client.get(f"/api/models/{artifact.pk}/card", HTTP_ACCEPT="text/markdown").status_code == 200

    page = alice_client.get(f"/models/{artifact.pk}/card")
    assert page.status_code == 200
    assert "library_name: &quot;peft&quot;" in page.content.decode()  # shown as text, escaped
    assert f'href="/models/{artifact.pk}/card"' in alice_client.get(f"/models/{artifact.pk}").content.decode()

    denied = bob_client.get(f"/api/models/{artifact.pk}/card")
    assert denied.status_code == 404
    assert denied.json() == {"error": "Model not found or access denied"}
    assert bob_client.get(f"/models/{artifact.pk}/card").status_code == 404


@pytest.mark.django_db
def test_the_card_of_a_model_that_was_never_inspected_says_so(alice, alice_client):
    job = make_job(alice, make_dataset(alice, name="Old data"))
    artifact = ModelArtifact.objects.create(user=alice, job=job, dataset=job.dataset, name="Old model")
    assert alice_client.get(f"/api/models/{artifact.pk}").json()["data"]["inspection"] is None
    assert (
        "This adapter has not been inspected." in alice_client.get(f"/api/models/{artifact.pk}/card").content.decode()
    )
    assert "This adapter has not been inspected yet." in alice_client.get(f"/models/{artifact.pk}").content.decode()


@pytest.mark.django_db
def test_inspect_artifacts_reinspects_from_storage_and_can_run_again(simulator, alice):
    good = ingested(alice, "sim-insp-cmd-good")
    bad = ingested(alice, "sim-insp-cmd-untrained")
    expected = {good.pk: good.inspection, bad.pk: bad.inspection}
    ModelArtifact.objects.update(inspection=None)
    for _ in range(2):  # idempotent: the second run finds and writes the same
        out = io.StringIO()
        call_command("inspect_artifacts", "--all", stdout=out)
        lines = out.getvalue().splitlines()
        assert f"{good.pk} ok" in lines and f"{bad.pk} unusable" in lines
        assert lines[-1] == "Inspected 2 artifact(s): 1 ok, 1 unusable."
        for artifact in ModelArtifact.objects.all():
            assert artifact.inspection == expected[artifact.pk]
    out = io.StringIO()
    call_command("inspect_artifacts", str(bad.pk), stdout=out)
    assert out.getvalue().splitlines()[0] == f"{bad.pk} unusable"
    with pytest.raises(CommandError):
        call_command("inspect_artifacts")
    with pytest.raises(CommandError):
        call_command("inspect_artifacts", "not-an-id")


@pytest.mark.django_db
def test_a_file_that_must_be_downloaded_again_is_inspected_from_its_start(simulator, alice, monkeypatch):
    """The transfer's contract with the inspector: start_file at each attempt, every verified chunk
    fed once, end_file with the verified size; a restarted file is inspected from scratch."""
    calls: list[tuple[str, str, int | None]] = []
    real = transfer_module.transfer_file

    class Recorder:
        def __init__(self, inner):
            self.inner = inner

        def start_file(self, name, expected_size=None):
            calls.append(("start", name, expected_size))
            self.inner.start_file(name, expected_size)

        def feed(self, name, chunk):
            calls.append(("feed", name, len(chunk)))
            self.inner.feed(name, chunk)

        def end_file(self, name, size=None):
            calls.append(("end", name, size))
            self.inner.end_file(name, size)

    def recording(client, remote, key, progress, inspector=None):
        return real(client, remote, key, progress, Recorder(inspector))

    monkeypatch.setattr("artifacts.services.ingest.service.transfer_file", recording)
    artifact = ingested(alice, "sim-insp-flaky")  # every file answers 503 twice first
    assert artifact.inspection["verdict"] == "ok"
    for row in artifact.files.all():
        mine = [c for c in calls if c[1] == row.filename]
        starts = [i for i, c in enumerate(mine) if c[0] == "start"]
        assert len(starts) == 3 and mine[starts[-1]] == ("start", row.filename, row.size)
        after = mine[starts[-1] + 1 :]
        assert sum(c[2] for c in after if c[0] == "feed") == row.size
        assert after[-1] == ("end", row.filename, row.size)
