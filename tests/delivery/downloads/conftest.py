"""The model the download tests grant and fetch: a config and a small weights file."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import add_file, make_artifact

WEIGHTS = bytes(range(256)) * 4 + b"tail"  # 1028 bytes, every offset distinguishable
CONFIG = b'{"r": 16, "lora_alpha": 32}'


@pytest.fixture
def model(alice):
    artifact = make_artifact(alice)
    add_file(artifact, "adapter_config.json", CONFIG)
    add_file(artifact, "adapter_model.safetensors", WEIGHTS)
    return artifact


@pytest.fixture
def owner(alice_client) -> Client:
    return alice_client
