"""The command-line client against a real running server (pytest-django's ``live_server``).

Models are made with the factories and their files written to local storage, so downloads go
through the real API, the real signed ``/downloads/<token>`` endpoint and real sockets.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pipeline_client import retry  # installed by `make setup` (pip install -e ./client)
from pipeline_client.cli import cli

from accounts.models import ApiToken
from tests.client.proxy import CuttingProxy
from tests.factories import add_file, make_artifact

WEIGHTS = random.Random(20260101).randbytes(3 * 1024 * 1024 + 123)  # ~3 MiB, every run the same
CONFIG = b'{"r": 16, "lora_alpha": 32, "target_modules": ["q_proj", "v_proj"]}\n'
TOKENIZER = b'{"model_max_length": 2048}\n'


@pytest.fixture(autouse=True)
def retry_waits(monkeypatch) -> list[float]:
    """The client's backoff waits are recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(retry, "sleep", waits.append)
    return waits


@pytest.fixture(autouse=True)
def config_home(monkeypatch, tmp_path: Path) -> Path:
    """A private ``$XDG_CONFIG_HOME`` and no login in the environment."""
    home = tmp_path / "config-home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("PIPELINE_URL", raising=False)
    monkeypatch.delenv("PIPELINE_TOKEN", raising=False)
    return home


@pytest.fixture
def server(live_server, settings) -> str:
    """The live server's base URL; signed local download links point at it."""
    settings.SITE_URL = live_server.url
    return str(live_server.url)


@pytest.fixture
def proxy(live_server, settings):
    """Signed download links point at a proxy in front of the live server that can cut connections."""
    host, port = live_server.url.removeprefix("http://").split(":")
    cutting = CuttingProxy((host, int(port)))
    settings.SITE_URL = cutting.url
    yield cutting
    cutting.close()


@pytest.fixture
def token(alice) -> str:
    _, raw = ApiToken.objects.issue(alice, name="cli")
    return raw


@pytest.fixture
def env_login(monkeypatch, live_server, token) -> str:
    """Logged in through the environment (the API is called directly, not through the proxy)."""
    monkeypatch.setenv("PIPELINE_URL", live_server.url)
    monkeypatch.setenv("PIPELINE_TOKEN", token)
    return token


@pytest.fixture
def model(alice):
    artifact = make_artifact(alice, name="Support bot v1/final")
    add_file(artifact, "adapter_config.json", CONFIG)
    add_file(artifact, "adapter_model.safetensors", WEIGHTS)
    add_file(artifact, "tokenizer_config.json", TOKENIZER)
    return artifact


FILES = {
    "adapter_config.json": CONFIG,
    "adapter_model.safetensors": WEIGHTS,
    "tokenizer_config.json": TOKENIZER,
}


def run(*args: str, input: str | None = None) -> Result:
    """Run the ``pipeline`` command in this process (so the live server and fake time are shared)."""
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
