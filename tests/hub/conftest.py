"""A repository of alice's with two revisions of a real (tiny) PEFT adapter, and bob's repository.

alice/support-bot-lora: ``first`` (older, ``production``; no README from the cluster, so the card
is README.md) and ``second`` (newer, ``main``; the cluster sent a README.md, so the card is
MODEL_CARD.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.utils import timezone

from accounts.models import ApiToken
from artifacts.models import ModelArtifact, Repository
from artifacts.services import registry
from tests.adapter_files import PREFIX, config, safetensors_bytes
from tests.factories import add_file, make_artifact, make_dataset, make_job

REPO = "alice/support-bot-lora"
HIDDEN, LAYERS, RANK = 32, 2, 4


def adapter_files(seed: int, *, readme: bool = False) -> dict[str, bytes]:
    """A LoRA adapter for the tiny Llama of the PEFT test (hidden 32, 2 layers), large enough to
    change its logits."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in range(LAYERS):
        for module in ("q_proj", "v_proj"):
            name = f"{PREFIX}.{layer}.self_attn.{module}"
            tensors[f"{name}.lora_A.weight"] = (rng.standard_normal((RANK, HIDDEN)) * 0.5).astype(np.float32)
            tensors[f"{name}.lora_B.weight"] = (rng.standard_normal((HIDDEN, RANK)) * 0.5).astype(np.float32)
    files = {
        "adapter_config.json": json.dumps(
            config(r=RANK, lora_alpha=8, base_model_name_or_path="tiny-random-llama")
        ).encode(),
        "adapter_model.safetensors": safetensors_bytes(tensors),
    }
    if readme:
        files["README.md"] = b"# The cluster's own README\n"
    return files


def stored_card(model: ModelArtifact) -> bytes:
    """The card of ``model`` as stored (JSON read back from the database, in its key order)."""
    from artifacts.services.model_card import artifact_card

    return artifact_card(ModelArtifact.objects.get(pk=model.pk)).encode()


@dataclass
class World:
    repository: Repository
    first: ModelArtifact
    second: ModelArtifact
    files: dict[str, dict[str, bytes]]  # commit -> cluster files
    token: str
    bob_repository: Repository
    bob_token: str


def revision_with(user: Any, dataset: Any, files: dict[str, bytes], *, days_ago: float, **extra: Any) -> ModelArtifact:
    model = make_artifact(user, make_job(user, dataset), created_at=timezone.now() - timedelta(days=days_ago), **extra)
    for name, data in files.items():
        add_file(model, name, data)
    return model


@pytest.fixture
def world(alice, bob) -> World:
    dataset = make_dataset(alice, name="Support bot")
    first_files, second_files = adapter_files(1), adapter_files(2, readme=True)
    inspection = {"verdict": "ok", "findings": [], "adapter": {"base_model": "tiny-random-llama"}}
    first = revision_with(alice, dataset, first_files, days_ago=2, inspection=inspection)
    second = revision_with(alice, dataset, second_files, days_ago=1)
    repository = first.repository
    assert repository.full_name == REPO and second.repository_id == repository.pk
    registry.follow_main(repository)
    registry.move_alias(alice, repository, "production", first)
    bobs = revision_with(bob, make_dataset(bob, name="Support bot"), adapter_files(3), days_ago=1)
    registry.follow_main(bobs.repository)
    return World(
        repository=repository,
        first=first,
        second=second,
        files={first.commit: first_files, second.commit: second_files},
        token=ApiToken.objects.issue(alice)[1],
        bob_repository=bobs.repository,
        bob_token=ApiToken.objects.issue(bob)[1],
    )
