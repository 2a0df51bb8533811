"""What a download writes beside the files: SHA256SUMS and the model card; unsafe names refused."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import httpx
import pytest

from artifacts.models import ArtifactFile
from tests.client.conftest import FILES, run
from tests.factories import add_file

pytestmark = pytest.mark.django_db(transaction=True)


def served(server: str, token: str, path: str) -> str:
    response = httpx.get(f"{server}{path}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.text


def test_card_is_written_as_readme_and_sums_pass_sha256sum(env_login, server, model, tmp_path, settings):
    settings.ROOT_URLCONF = "tests.client.delivery_urls"
    target = tmp_path / "model"

    result = run("download", str(model.id), str(target))

    assert result.exit_code == 0, result.output
    assert (target / "README.md").read_text() == served(server, env_login, f"/api/models/{model.id}/card")
    assert not (target / "MODEL_CARD.md").exists()
    assert "note:" not in result.stderr
    if shutil.which("sha256sum"):
        checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=target, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_card_goes_to_model_card_md_when_the_model_has_a_readme(env_login, server, model, tmp_path, settings):
    settings.ROOT_URLCONF = "tests.client.delivery_urls"
    readme = b"# The cluster's own README\n"
    add_file(model, "README.md", readme)
    target = tmp_path / "model"

    result = run("download", str(model.id), str(target))

    assert result.exit_code == 0, result.output
    assert (target / "README.md").read_bytes() == readme
    assert (target / "MODEL_CARD.md").read_text() == served(server, env_login, f"/api/models/{model.id}/card")
    assert "README.md" in (target / "SHA256SUMS").read_text()


def test_without_the_endpoints_sums_come_from_the_file_list_and_the_card_is_skipped(
    env_login, server, model, tmp_path, settings
):
    settings.ROOT_URLCONF = "tests.client.delivery_missing_urls"
    target = tmp_path / "model"

    result = run("download", str(model.id), str(target))

    assert result.exit_code == 0, result.output
    assert "note: model card skipped: the server has no card for this model (HTTP 404)" in result.stderr
    assert not (target / "README.md").exists()
    assert (target / "SHA256SUMS").read_text() == "".join(
        f"{hashlib.sha256(FILES[name]).hexdigest()}  {name}\n" for name in sorted(FILES)
    )
    assert run("verify", str(target)).exit_code == 0


def test_a_file_name_that_climbs_out_of_the_folder_is_refused(env_login, server, model, tmp_path):
    record = add_file(model, "evil.txt", b"outside\n")
    ArtifactFile.objects.filter(pk=record.pk).update(filename="../evil.txt")
    target = tmp_path / "inside" / "model"

    result = run("download", str(model.id), str(target))

    assert result.exit_code == 1
    assert "'../evil.txt': refused, not a safe file name" in result.stderr
    assert not list((tmp_path / "inside").rglob("evil.txt"))
    for name, content in FILES.items():  # the safe files still arrive
        assert (target / name).read_bytes() == content
    assert "Traceback" not in result.output


def test_the_models_own_readme_and_model_card_are_never_overwritten(env_login, server, model, tmp_path, settings):
    settings.ROOT_URLCONF = "tests.client.delivery_urls"
    readme, own_card = b"# The cluster's README\n", b"# The cluster's own model card\n"
    add_file(model, "README.md", readme)
    add_file(model, "MODEL_CARD.md", own_card)
    target = tmp_path / "model"

    result = run("download", str(model.id), str(target))

    assert result.exit_code == 0, result.output
    assert (target / "README.md").read_bytes() == readme
    assert (target / "MODEL_CARD.md").read_bytes() == own_card
    card = served(server, env_login, f"/api/models/{model.id}/card")
    assert (target / "MODEL_CARD.generated.md").read_text() == card


def test_the_models_own_sha256sums_is_kept_and_verify_finds_the_downloads(env_login, server, model, tmp_path):
    own_sums = b"# written by the training cluster\n" + b"0" * 64 + b"  weights-from-another-run.bin\n"
    add_file(model, "SHA256SUMS", own_sums)
    target = tmp_path / "model"

    result = run("download", str(model.id), str(target))

    assert result.exit_code == 0, result.output
    assert (target / "SHA256SUMS").read_bytes() == own_sums
    assert "note: the model has its own SHA256SUMS; the download's sums are in SHA256SUMS.generated" in result.stderr
    listed = [line.split("  ", 1)[1] for line in (target / "SHA256SUMS.generated").read_text().splitlines()]
    assert listed == sorted([*FILES, "SHA256SUMS"])
    checked = run("verify", str(target))
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.splitlines() == [f"{name}: OK" for name in sorted([*FILES, "SHA256SUMS"])]
