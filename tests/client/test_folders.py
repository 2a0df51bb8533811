"""The default download folder is always one plain name inside the current directory.

The server's ``folder`` (DESIGN §14) when it sends a valid one, else the name's slug and the id's
start, else ``model-<8 hex>``; a hostile id or folder, or a name that cleans to nothing, never leads
anywhere else.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_client.names import folder_name

from tests.client.conftest import FILES, run

ID = "3f2b8c1d-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("model", "folder"),
    [
        ({"id": ID, "name": "Support bot", "folder": "support-bot"}, "support-bot"),
        ({"id": ID, "name": "Support bot", "folder": "Café · r16"}, "Café · r16"),
        ({"id": ID, "name": "Support bot"}, "Support-bot-3f2b8c1d"),
        ({"id": ID, "name": "Support bot", "folder": "../../etc"}, "Support-bot-3f2b8c1d"),
        ({"id": ID, "name": "Support bot", "folder": "/home/me"}, "Support-bot-3f2b8c1d"),
        ({"id": ID, "name": "Support bot", "folder": ".."}, "Support-bot-3f2b8c1d"),
        ({"id": ID, "name": "Support bot", "folder": ""}, "Support-bot-3f2b8c1d"),
        ({"id": ID, "name": "Support bot", "folder": "  "}, "Support-bot-3f2b8c1d"),
        ({"id": ID, "name": "Support bot", "folder": "a\x00b"}, "Support-bot-3f2b8c1d"),
        ({"id": ID, "name": "Support bot", "folder": "é" * 51}, "Support-bot-3f2b8c1d"),  # 102 bytes
        ({"id": ID, "name": "Support bot", "folder": 7}, "Support-bot-3f2b8c1d"),
        ({"id": ID, "name": "/../ ."}, "model-3f2b8c1d"),
        ({"id": ID, "name": "\u200b\u200b"}, "model-3f2b8c1d"),
        ({"id": ID, "name": "x" * 300}, "x" * 91 + "-3f2b8c1d"),
        ({"id": "../../..", "name": "../../.."}, "model"),
        ({"id": "../../..", "name": "Support bot"}, "Support-bot"),
        ({"id": "/etc/ABCDEF99", "folder": "/etc"}, "model-ecabcdef"),  # hex digits only
    ],
)
def test_the_folder_is_one_plain_name_of_at_most_100_bytes(model, folder):
    assert folder_name(model) == folder
    assert len(folder.encode()) <= 100


def cwd_inside(tmp_path: Path, monkeypatch) -> Path:
    here = tmp_path / "work" / "here"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    return here


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"id": "../../..", "name": "../../..", "folder": "../../.."}, "model"),  # a hostile server
        ({"name": "/../ .", "folder": None}, "model-{hex}"),  # a name that cleans to nothing, no server folder
        ({"folder": "Chosen by the server"}, "Chosen by the server"),
    ],
)
def test_download_lands_in_one_folder_inside_the_current_directory(
    env_login, server, model, tmp_path, monkeypatch, settings, fields, expected
):
    settings.ROOT_URLCONF = "tests.client.rewriting_urls"
    settings.CLIENT_MODEL_FIELDS = {str(model.id): fields}
    here = cwd_inside(tmp_path, monkeypatch)

    result = run("download", str(model.id), "--files", "adapter_config.json")

    assert result.exit_code == 0, result.output
    folder = expected.format(hex=str(model.id)[:8])
    assert [path.name for path in here.iterdir()] == [folder]
    assert (here / folder / "adapter_config.json").read_bytes() == FILES["adapter_config.json"]
    assert [path.name for path in (tmp_path / "work").iterdir()] == ["here"]
    assert {path.name for path in tmp_path.iterdir()} <= {"work", "config-home", "storage"}
