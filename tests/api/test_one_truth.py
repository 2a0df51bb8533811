"""DESIGN §14: every view of a model tells the same story — one folder name that follows a rename,
the verdict on every list item and in the filter, generated files that never shadow the cluster's."""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile

import pytest
from django.test import Client

from artifacts.health.verdict import model_verdict
from artifacts.naming import model_folder
from artifacts.services import bundles
from artifacts.storage.seam import artifact_storage
from tests.adapter_files import adapter, inspect
from tests.factories import add_file, make_artifact

pytestmark = pytest.mark.django_db


@pytest.fixture
def loadable(alice):
    """A model whose files are a real, loadable adapter, inspected for the folder its name gives."""
    files = adapter()
    artifact = make_artifact(alice, name="Support bot v1")
    artifact.inspection = inspect(files, adapter_name=model_folder(artifact.name, artifact.pk))
    artifact.save(update_fields=["inspection"])
    for name, data in files.items():
        add_file(artifact, name, data)
    return artifact


def test_a_rename_moves_every_place_that_names_the_folder(alice_client, loadable, tmp_path):
    assert loadable.folder == "support-bot-v1"
    response = alice_client.patch(
        f"/api/models/{loadable.pk}", {"name": "Checkout helper (final)"}, content_type="application/json"
    )
    assert response.status_code == 200
    data = response.json()["data"]
    folder = "checkout-helper-final"
    assert data["folder"] == folder  # the API, and so the CLI's default folder
    vllm = data["inspection"]["serving"]["vllm"]["command"]
    assert f"--lora-modules {folder}=./{folder} " in vllm and "support-bot-v1" not in vllm
    everything = str(data["inspection"]["serving"])
    assert "support-bot-v1" not in everything and f"/data/adapters/{folder}" in everything

    page = alice_client.get(f"/models/{loadable.pk}").content.decode()
    assert f"./{folder}" in page and "support-bot-v1" not in page

    card = alice_client.get(f"/api/models/{loadable.pk}/card").content.decode()
    assert f"./{folder}" in card
    assert "support-bot-v1" not in card

    loadable.refresh_from_db()
    archive = b"".join(bundles.zip_stream(loadable, list(loadable.files.all()), artifact_storage()))
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        assert {name.split("/", 1)[0] for name in zipped.namelist()} == {folder}  # unzip makes ./folder
        zipped.extractall(tmp_path)
    bundled_card = (tmp_path / folder / "README.md").read_text()
    assert f"./{folder}" in bundled_card and (tmp_path / folder / "adapter_model.safetensors").is_file()


def test_the_list_carries_the_verdict_and_filters_on_it(alice, alice_client):
    good = make_artifact(alice, name="good", inspection={"verdict": "ok", "findings": []})
    broken = make_artifact(alice, name="broken", inspection={"verdict": "unusable", "findings": []})
    diverged_health = {"summary": "Training diverged at step 40.", "checks": [{"code": "diverged", "status": "fail"}]}
    diverged = make_artifact(alice, name="diverged", training_health=diverged_health)
    for artifact in (good, broken, diverged):
        artifact.verdict = model_verdict(artifact.inspection, artifact.training_health)
        artifact.save(update_fields=["verdict"])

    items = {m["name"]: m for m in alice_client.get("/api/models").json()["data"]["models"]}
    assert (items["good"]["verdict"], items["broken"]["verdict"], items["diverged"]["verdict"]) == (
        "ok",
        "unusable",
        "unusable",
    )
    assert items["diverged"]["health_summary"] == "Training diverged at step 40."
    usable = alice_client.get("/api/models?verdict=ok,warnings").json()["data"]["models"]
    assert [m["name"] for m in usable] == ["good"]
    only_bad = alice_client.get("/api/models?verdict=unusable").json()["data"]["models"]
    assert {m["name"] for m in only_bad} == {"broken", "diverged"}
    refused = alice_client.get("/api/models?verdict=fine")
    assert refused.status_code == 400 and "verdict" in refused.json()["details"]


def test_a_bundle_never_holds_two_entries_with_one_name(alice, tmp_path):
    artifact = make_artifact(alice, name="Cluster sent everything", inspection={"verdict": "ok", "findings": []})
    theirs = {
        "adapter_model.safetensors": b"weights",
        "SHA256SUMS": b"the cluster's own sums\n",
        "README.md": b"# the cluster's readme\n",
        "MODEL_CARD.md": b"# the cluster's card\n",
        "inspection.json": b'{"theirs": true}',
    }
    for name, data in theirs.items():
        add_file(artifact, name, data)
    archive = b"".join(bundles.zip_stream(artifact, list(artifact.files.all()), artifact_storage()))
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        names = zipped.namelist()
        assert len(names) == len(set(names))  # unique entries
        assert all(info.external_attr >> 16 == 0o100644 for info in zipped.infolist())
        zipped.extractall(tmp_path)
    folder = tmp_path / artifact.folder
    for name, data in theirs.items():
        assert (folder / name).read_bytes() == data  # the cluster's files keep their names and bytes
    assert "Cluster sent everything" in (folder / "MODEL_CARD.generated.md").read_text()
    assert (folder / "inspection.generated.json").is_file()
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS.generated"], cwd=folder, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0 and checked.stdout.count(": OK") == len(theirs)
    assert hashlib.sha256(theirs["SHA256SUMS"]).hexdigest() in (folder / "SHA256SUMS.generated").read_text()


def test_a_name_that_cleans_to_nothing_gets_a_folder_from_the_id(alice, alice_client):
    artifact = make_artifact(alice, name="../../..")
    assert artifact.folder == f"model-{artifact.pk.hex[:8]}"
    listed = Client()
    listed.force_login(alice)
    data = listed.get(f"/api/models/{artifact.pk}").json()["data"]
    assert data["folder"] == artifact.folder
