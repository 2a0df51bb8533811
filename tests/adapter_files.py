"""Build real PEFT adapter files (safetensors + numpy) and inspect them the way ingest will."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save

from artifacts.inspection import AdapterInspector

PREFIX = "base_model.model.model.layers"


def config(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": "mistralai/Mistral-7B-v0.1",
        "r": 8,
        "lora_alpha": 16,
        "target_modules": ["q_proj", "v_proj"],
        "bias": "none",
        "modules_to_save": None,
        "use_dora": False,
    }
    base.update(overrides)
    return base


def lora_tensors(
    rank: int = 8,
    hidden: int = 32,
    layers: int = 2,
    modules: tuple[str, ...] = ("q_proj", "v_proj"),
    dtype: Any = np.float32,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in range(layers):
        for module in modules:
            name = f"{PREFIX}.{layer}.self_attn.{module}"
            tensors[f"{name}.lora_A.weight"] = (rng.standard_normal((rank, hidden)) * 0.02).astype(dtype)
            tensors[f"{name}.lora_B.weight"] = (rng.standard_normal((hidden, rank)) * 0.01).astype(dtype)
    return tensors


def safetensors_bytes(tensors: dict[str, np.ndarray]) -> bytes:
    return save(tensors, metadata={"format": "pt"})


def bf16_bytes(values: np.ndarray) -> bytes:
    """bfloat16 is the upper half of float32 (little-endian)."""
    return (values.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()


def raw_safetensors(header: dict[str, Any], data: bytes) -> bytes:
    encoded = json.dumps(header).encode()
    return len(encoded).to_bytes(8, "little") + encoded + data


def inspect(
    files: dict[str, bytes], job: dict[str, Any] | None = None, chunk: int = 65536, **options: Any
) -> dict[str, Any]:
    inspector = AdapterInspector()
    for name, data in files.items():
        inspector.start_file(name, len(data))
        for start in range(0, len(data), chunk):
            inspector.feed(name, data[start : start + chunk])
        inspector.end_file(name, len(data))
    return inspector.report(job, **options)


def adapter(cfg: dict[str, Any] | None = None, tensors: dict[str, np.ndarray] | None = None) -> dict[str, bytes]:
    return {
        "adapter_config.json": json.dumps(cfg if cfg is not None else config()).encode(),
        "adapter_model.safetensors": safetensors_bytes(tensors if tensors is not None else lora_tensors()),
    }


def codes(report: dict[str, Any]) -> set[str]:
    return {finding["code"] for finding in report["findings"]}


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder
