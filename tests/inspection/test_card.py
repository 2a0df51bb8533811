"""The generated model card: Hugging Face front matter that parses, and every section a reader needs."""

from __future__ import annotations

import pytest

from artifacts.inspection.card import model_card
from tests.adapter_files import adapter, config, inspect

yaml = pytest.importorskip("yaml")

QUALITY = {
    "overall_score": 4,
    "convergence_quality": "good",
    "final_training_loss": 0.78,
    "final_validation_loss": 0.93,
    "perplexity": 2.53,
    "loss_improvement": 64.5,
}
HEALTH = {
    "summary": "Validation loss rose after step 600 while training loss kept falling.",
    "best_step": 600,
    "checks": [{"code": "overfitting", "status": "warn", "message": "Validation loss rising since step 600."}],
}


def card(**overrides):
    values = {
        "name": "Support bot - 11/27/2026",
        "dataset_name": "Customer Support Conversations",
        "configuration": {"preset_id": "balanced", "hyperparameters": {"rank": 8, "lora_alpha": 16}, "gpu_config": {}},
        "quality_metrics": QUALITY,
        "training_summary": {"epochs_completed": 3, "total_steps": 975, "total_cost": 29.4},
        "inspection": inspect(adapter(), None, adapter_name="support-bot"),
        "health": HEALTH,
        "files": [{"filename": "adapter_model.safetensors", "size": 9216, "sha256": "ab" * 32}],
        "folder": "./support-bot",
    }
    values.update(overrides)
    return model_card(**values)


def front_matter(text):
    assert text.startswith("---\n")
    block, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(block), body


def test_front_matter_is_hugging_face_metadata():
    meta, body = front_matter(card())
    assert meta["base_model"] == "mistralai/Mistral-7B-v0.1"
    assert meta["library_name"] == "peft" and meta["base_model_relation"] == "adapter"
    assert "lora" in meta["tags"] and "base_model:adapter:mistralai/Mistral-7B-v0.1" in meta["tags"]
    assert meta["datasets"] == ["Customer Support Conversations"]
    assert meta["metrics"] == ["loss", "perplexity"]
    for heading in ("# Support bot", "## Hyperparameters", "## Training health", "## Inspection", "## How to load"):
        assert heading in body
    assert 'PeftModel.from_pretrained(base, "./support-bot")' in body
    assert "Validation loss rose after step 600" in body and "overfitting" in body
    assert "ab" * 32 in body and "9.0 KiB" in body
    assert "vllm serve mistralai/Mistral-7B-v0.1" in body


def test_hostile_values_cannot_break_the_front_matter_or_the_tables():
    name = 'x"\n---\nlibrary_name: evil\n| a | <script>'
    dataset = "data: [1, 2]\n- evil"
    inspection = inspect(adapter(cfg=config(base_model_name_or_path='org/m"\nlibrary_name: evil')), None)
    meta, body = front_matter(card(name=name, dataset_name=dataset, inspection=inspection))
    assert meta["library_name"] == "peft"
    assert meta["datasets"] == [dataset]
    assert meta["base_model"] == 'org/m"\nlibrary_name: evil'
    assert "<script>" not in body and "\\| a \\|" in body


def test_minimal_card_without_health_inspection_or_files():
    meta, body = front_matter(model_card(name="Bare"))
    assert meta == {"library_name": "peft", "tags": ["peft", "lora"]}
    assert "No training health report is available" in body and "has not been inspected" in body
    assert 'from_pretrained("BASE_MODEL")' in body


def test_an_unusable_adapter_says_so_in_the_summary_and_lists_the_errors():
    files = adapter()
    files["adapter_model.safetensors"] = files["adapter_model.safetensors"][:-4]
    _, body = front_matter(card(inspection=inspect(files, None)))
    assert "The adapter is unusable as delivered" in body
    assert "`safetensors_invalid`" in body and "not ready" in body


def test_an_unusable_model_gets_no_load_or_serving_command_only_what_is_wrong():
    files = adapter()
    files["adapter_model.safetensors"] = files["adapter_model.safetensors"][:-4]
    _, body = front_matter(card(inspection=inspect(files, None), verdict="unusable"))
    assert "## How to load" not in body and "PeftModel.from_pretrained" not in body
    assert "9,212 bytes" in body.split("## Not ready to load", 1)[1]  # the inspection's error, as the reason


def test_a_diverged_run_with_clean_files_never_says_no_problems():
    diverged = {
        "summary": "Training diverged at step 40.",
        "checks": [{"code": "diverged", "status": "fail", "message": "Training loss became NaN at step 40."}],
    }
    _, body = front_matter(card(health=diverged, verdict="unusable"))
    assert "No problems" not in body and "the training run diverged" in body
    assert "vllm serve" not in body and "PeftModel.from_pretrained" not in body
    assert "Training loss became NaN at step 40." in body.split("## Not ready to load", 1)[1]
