"""``pipeline download`` and ``pipeline verify`` against a real running server."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from pipeline_client.disk import part_name

from artifacts.models import DownloadGrant
from tests.client.conftest import FILES, WEIGHTS, run

pytestmark = pytest.mark.django_db(transaction=True)

WEIGHTS_NAME = "adapter_model.safetensors"


def folder_listing(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


def test_download_gives_byte_exact_files_and_sums_that_sha256sum_accepts(env_login, server, model, tmp_path):
    target = tmp_path / "model"

    result = run("download", str(model.id), str(target))

    assert result.exit_code == 0, result.output
    for name, content in FILES.items():
        assert (target / name).read_bytes() == content
    assert not [name for name in folder_listing(target) if name.startswith(".")]  # no partial or temporary file
    sums = (target / "SHA256SUMS").read_text()
    assert sums == "".join(f"{hashlib.sha256(FILES[name]).hexdigest()}  {name}\n" for name in sorted(FILES))
    if shutil.which("sha256sum"):
        checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=target, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.count(": OK") == len(FILES)
    assert "3 downloaded, 0 already present, 0 failed" in result.stdout
    assert DownloadGrant.objects.filter(artifact=model).count() == 1  # one grant for all files


def test_download_defaults_to_the_models_folder_in_the_current_directory(
    env_login, server, model, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    detail = httpx.get(f"{server}/api/models/{model.id}", headers={"Authorization": f"Bearer {env_login}"}).json()
    # The server's one folder name when it sends one; before that, the name's slug and the id's start.
    expected = detail["data"].get("folder") or f"Support-bot-v1-final-{str(model.id)[:8]}"

    result = run("download", str(model.id), "--files", "adapter_config.json")

    assert result.exit_code == 0, result.output
    assert (tmp_path / expected / "adapter_config.json").read_bytes() == FILES["adapter_config.json"]


def test_files_subset_downloads_only_those_and_lists_only_them(env_login, server, model, tmp_path):
    target = tmp_path / "subset"

    result = run("download", str(model.id), str(target), "--files", "adapter_config.json", "--files", WEIGHTS_NAME)

    assert result.exit_code == 0, result.output
    assert not (target / "tokenizer_config.json").exists()
    assert (target / WEIGHTS_NAME).read_bytes() == WEIGHTS
    listed = [line.split("  ", 1)[1] for line in (target / "SHA256SUMS").read_text().splitlines()]
    assert listed == ["adapter_config.json", WEIGHTS_NAME]
    assert DownloadGrant.objects.get().files == ["adapter_config.json", WEIGHTS_NAME]


def test_unknown_file_name_fails_with_the_available_names(env_login, server, model, tmp_path):
    result = run("download", str(model.id), str(tmp_path / "x"), "--files", "missing.bin")

    assert result.exit_code == 1
    assert "no such file in this model: missing.bin" in result.stderr
    assert "adapter_config.json" in result.stderr
    assert "Traceback" not in result.output


def test_second_run_skips_verified_files_and_fetches_a_missing_one(env_login, server, model, tmp_path):
    target = tmp_path / "model"
    assert run("download", str(model.id), str(target)).exit_code == 0
    (target / "tokenizer_config.json").unlink()

    result = run("download", str(model.id), str(target))

    assert result.exit_code == 0, result.output
    assert "1 downloaded, 2 already present" in result.stdout
    assert (target / "tokenizer_config.json").read_bytes() == FILES["tokenizer_config.json"]
    assert DownloadGrant.objects.order_by("created_at").last().files == ["tokenizer_config.json"]


def test_connection_cut_halfway_resumes_with_range(env_login, proxy, model, tmp_path):
    target = tmp_path / "model"
    proxy.cut_after(len(WEIGHTS) // 2)

    result = run("download", str(model.id), str(target), "--files", WEIGHTS_NAME)

    assert result.exit_code == 0, result.output
    assert (target / WEIGHTS_NAME).read_bytes() == WEIGHTS
    assert proxy.cuts == 1
    first, second = proxy.ranges()
    assert first == ""
    resumed_from = int(second.removeprefix("bytes=").removesuffix("-"))
    assert len(WEIGHTS) // 3 < resumed_from < len(WEIGHTS)
    # The second request fetched only the rest: both together are one file plus headers.
    assert proxy.sent_to_client < len(WEIGHTS) + 4096
    assert any(f'if-range: "{hashlib.sha256(WEIGHTS).hexdigest()}"' in h.lower() for h in proxy.request_heads)


def test_a_part_file_from_an_earlier_run_is_resumed(env_login, proxy, model, tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    half = len(WEIGHTS) // 2
    (target / part_name(WEIGHTS_NAME)).write_bytes(WEIGHTS[:half])

    result = run("download", str(model.id), str(target), "--files", WEIGHTS_NAME)

    assert result.exit_code == 0, result.output
    assert (target / WEIGHTS_NAME).read_bytes() == WEIGHTS
    assert proxy.ranges() == [f"bytes={half}-"]
    assert proxy.sent_to_client < len(WEIGHTS) - half + 4096
    assert not [name for name in folder_listing(target) if name.startswith(".")]  # no partial file left


def test_a_corrupt_part_file_is_discarded_and_fetched_again(env_login, proxy, model, tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / part_name(WEIGHTS_NAME)).write_bytes(b"\0" * 1000)  # not the file's first bytes

    result = run("download", str(model.id), str(target), "--files", WEIGHTS_NAME)

    assert result.exit_code == 0, result.output
    assert (target / WEIGHTS_NAME).read_bytes() == WEIGHTS
    assert "checksum mismatch" in result.stderr
    assert proxy.ranges() == ["bytes=1000-", ""]


def test_expired_link_is_reminted_and_the_download_resumes(env_login, proxy, model, tmp_path, settings):
    settings.SIGNED_URL_TTL = 60
    target = tmp_path / "model"
    with time_machine.travel(datetime.now(UTC), tick=True) as clock:
        # The connection drops halfway and, by the time the client retries, the link has expired.
        proxy.cut_after(len(WEIGHTS) // 2, then=lambda: clock.shift(timedelta(seconds=120)))

        result = run("download", str(model.id), str(target), "--files", WEIGHTS_NAME)

    assert result.exit_code == 0, result.output
    assert (target / WEIGHTS_NAME).read_bytes() == WEIGHTS
    assert DownloadGrant.objects.filter(artifact=model).count() == 2  # the first link, then a new one
    ranges = proxy.ranges()
    assert ranges[0] == "" and all(r.startswith("bytes=") and r != "bytes=0-" for r in ranges[1:])
    assert proxy.sent_to_client < len(WEIGHTS) + 8192


def test_a_link_that_stays_refused_fails_with_one_line(env_login, server, model, tmp_path, settings):
    settings.SIGNED_URL_TTL = -1  # every link the server signs is already expired

    result = run("download", str(model.id), str(tmp_path / "m"), "--files", "adapter_config.json")

    assert result.exit_code == 1
    assert "adapter_config.json: the download link is refused even after renewing it" in result.stderr
    assert "This download link has expired." in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "m" / "adapter_config.json").exists()


def test_verify_passes_then_fails_on_a_tampered_and_a_missing_file(env_login, server, model, tmp_path):
    target = tmp_path / "model"
    assert run("download", str(model.id), str(target)).exit_code == 0

    good = run("verify", str(target))
    assert good.exit_code == 0, good.output
    assert good.stdout.splitlines() == [f"{name}: OK" for name in sorted(FILES)]

    data = bytearray((target / WEIGHTS_NAME).read_bytes())
    data[1000] ^= 0xFF
    (target / WEIGHTS_NAME).write_bytes(bytes(data))
    (target / "tokenizer_config.json").unlink()

    bad = run("verify", str(target))
    assert bad.exit_code == 1
    assert f"{WEIGHTS_NAME}: FAILED (checksum mismatch)" in bad.stdout
    assert "tokenizer_config.json: FAILED (missing)" in bad.stdout
    assert "adapter_config.json: OK" in bad.stdout
    assert "2 of 3 file(s) listed in SHA256SUMS did not verify" in bad.stderr


def test_verify_without_sums_file_fails(tmp_path):
    result = run("verify", str(tmp_path))

    assert result.exit_code == 1
    assert "SHA256SUMS not found" in result.stderr
