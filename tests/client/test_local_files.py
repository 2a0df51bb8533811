"""What a download does to files already in its folder, and to names planted there.

An existing file that differs from the model's is left alone unless ``--overwrite``; a partial or
temporary file is never written through a symbolic link (or into a hard-linked or special file);
the longest valid file name still downloads.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from pipeline_client import disk
from pipeline_client.disk import part_name

from artifacts.models import DownloadGrant
from tests.client.conftest import FILES, WEIGHTS, run
from tests.factories import add_file

pytestmark = pytest.mark.django_db(transaction=True)

WEIGHTS_NAME = "adapter_model.safetensors"
PRECIOUS = b"someone else's file, not to be touched\n"


def test_a_differing_file_is_left_alone_without_overwrite(env_login, server, model, tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    mine = bytearray(WEIGHTS)
    mine[100] ^= 0xFF  # same size, other bytes: only the sha256 tells them apart
    (target / WEIGHTS_NAME).write_bytes(bytes(mine))
    (target / "adapter_config.json").write_bytes(b"{}\n")

    result = run("download", str(model.id), str(target))

    assert result.exit_code == 1
    local = hashlib.sha256(bytes(mine)).hexdigest()
    assert (
        f"error: {WEIGHTS_NAME} exists and differs from the model's (sha256 {local}, "
        f"the model's {hashlib.sha256(WEIGHTS).hexdigest()}); rerun with --overwrite to replace it\n"
    ) in result.stderr
    size = len(FILES["adapter_config.json"])
    assert (
        f"error: adapter_config.json exists and differs from the model's (its size is 3 B, the model's {size} B); "
        "rerun with --overwrite to replace it\n"
    ) in result.stderr
    assert (target / WEIGHTS_NAME).read_bytes() == bytes(mine)
    assert (target / "adapter_config.json").read_bytes() == b"{}\n"
    assert (target / "tokenizer_config.json").read_bytes() == FILES["tokenizer_config.json"]  # the rest arrives
    assert DownloadGrant.objects.get().files == ["tokenizer_config.json"]


def test_overwrite_replaces_a_differing_file(env_login, server, model, tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / WEIGHTS_NAME).write_bytes(b"my own weights\n")

    result = run("download", str(model.id), str(target), "--files", WEIGHTS_NAME, "--overwrite")

    assert result.exit_code == 0, result.output
    assert (target / WEIGHTS_NAME).read_bytes() == WEIGHTS
    assert f"note: {WEIGHTS_NAME} differs from the model's (its size is 15 B" in result.stderr
    assert run("verify", str(target)).exit_code == 0


def test_a_directory_in_the_way_is_reported_even_with_overwrite(env_login, server, model, tmp_path):
    target = tmp_path / "model"
    (target / WEIGHTS_NAME).mkdir(parents=True)

    result = run("download", str(model.id), str(target), "--files", WEIGHTS_NAME, "--overwrite")

    assert result.exit_code == 1
    assert f"error: {WEIGHTS_NAME} exists and is a directory; move it away and run again" in result.stderr
    assert (target / WEIGHTS_NAME).is_dir()


def plant(path: Path, kind: str, victim: Path) -> None:
    if kind == "symlink":
        path.symlink_to(victim)
    elif kind == "hard link":
        os.link(victim, path)
    else:
        os.mkfifo(path)


@pytest.mark.parametrize("kind", ["symlink", "hard link", "fifo"])
def test_a_planted_partial_file_is_refused_and_its_target_untouched(env_login, server, model, tmp_path, kind):
    target = tmp_path / "model"
    target.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(PRECIOUS)
    for name in FILES:
        plant(target / part_name(name), kind, victim)

    result = run("download", str(model.id), str(target))

    assert result.exit_code == 1
    for name in FILES:
        assert f"error: {name}: {target / part_name(name)} is " in result.stderr
    assert "refusing to write" in result.stderr
    assert victim.read_bytes() == PRECIOUS
    assert not any((target / name).exists() for name in FILES)
    assert "Traceback" not in result.output


def test_symlinks_at_the_old_and_the_temporary_names_are_never_followed(
    env_login, server, model, tmp_path, settings, monkeypatch
):
    """The names earlier versions wrote through, and the first random names the writer will try."""
    settings.ROOT_URLCONF = "tests.client.delivery_urls"
    target = tmp_path / "model"
    target.mkdir()
    victims = []
    suffixes = iter(["0" * 16, "1" * 16, "0" * 16, "2" * 16])  # each write first meets the planted name
    monkeypatch.setattr(disk, "secrets", SimpleNamespace(token_hex=lambda n: next(suffixes)))
    planted = [f"{name}.part" for name in FILES] + [".SHA256SUMS.tmp", ".README.md.tmp", f".tmp-{'0' * 16}"]
    for number, name in enumerate(planted):
        victim = tmp_path / f"victim-{number}"
        victim.write_bytes(PRECIOUS)
        (target / name).symlink_to(victim)
        victims.append(victim)

    result = run("download", str(model.id), str(target))

    assert result.exit_code == 0, result.output
    assert all(victim.read_bytes() == PRECIOUS for victim in victims)
    for name, content in FILES.items():
        assert (target / name).read_bytes() == content
    assert run("verify", str(target)).exit_code == 0
    assert (target / "README.md").read_text().startswith("---")  # the card, written beside the planted links


def test_the_longest_valid_file_name_downloads(env_login, server, model, tmp_path):
    name = "w" * (255 - len(".safetensors")) + ".safetensors"
    assert len(name.encode()) == 255
    add_file(model, name, WEIGHTS[:4096])
    target = tmp_path / "model"

    result = run("download", str(model.id), str(target), "--files", name)

    assert result.exit_code == 0, result.output
    assert (target / name).read_bytes() == WEIGHTS[:4096]
    checked = run("verify", str(target))
    assert checked.exit_code == 0
    assert f"{name}: OK" in checked.stdout
