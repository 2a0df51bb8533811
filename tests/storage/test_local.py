"""The local backend's streamed save: every byte stored, durable before it returns, nothing left on failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from artifacts.storage.local import LocalArtifactStorage, WriteBehind


@pytest.fixture
def storage(tmp_path: Path) -> LocalArtifactStorage:
    return LocalArtifactStorage(location=str(tmp_path / "root"))


def chunks(count: int, size: int) -> list[bytes]:
    return [bytes([n % 251]) * size for n in range(count)]


def test_a_stream_over_many_write_behind_windows_is_stored_byte_for_byte(storage, monkeypatch, tmp_path):
    monkeypatch.setattr(WriteBehind, "WINDOW", 4096)
    parts = chunks(40, 1000) + [b"", b"tail"]
    storage.save_stream("u1/a1/adapter_model.safetensors", iter(parts))
    stored = tmp_path / "root" / "u1" / "a1" / "adapter_model.safetensors"
    assert stored.read_bytes() == b"".join(parts)
    assert [p.name for p in stored.parent.iterdir()] == ["adapter_model.safetensors"]  # no temporary left


def test_the_file_and_its_folder_are_synced_before_save_returns(storage, monkeypatch, tmp_path):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(source, target) -> None:
        events.append("rename")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    storage.save_stream("u1/a1/config.json", [b"{}"])
    assert events == ["fsync file", "rename", "fsync folder"]


def test_a_stream_that_fails_leaves_neither_the_file_nor_a_temporary(storage, tmp_path):
    def broken():
        yield b"x" * 10_000
        raise ConnectionError("cut")

    with pytest.raises(ConnectionError):
        storage.save_stream("u1/a1/adapter_model.safetensors", broken())
    assert list((tmp_path / "root" / "u1" / "a1").iterdir()) == []
