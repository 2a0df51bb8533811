"""Generate the files a LoRA training run leaves behind, in PEFT's format, without holding them in memory.

``adapter_model.safetensors`` is a valid safetensors file whose LoRA A/B tensors are shaped by
the rank, the hidden size and the target modules; it is written tensor by tensor in 4 MiB chunks,
so gigabyte adapters need no more memory than small ones. Everything is generated once per
(job, spec) into a cache folder, with each file's size and sha256 recorded beside it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

CHUNK_ELEMENTS = 1024 * 1024  # float32 values per write: 4 MiB

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class AdapterSpec:
    base_model: str = "mistralai/Mistral-7B-v0.1"
    hidden_size: int = 4096
    rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    adapter_bytes: int = 8 * 1024 * 1024

    @property
    def layer_bytes(self) -> int:
        return len(self.target_modules) * 2 * self.rank * self.hidden_size * 4

    @property
    def num_layers(self) -> int:
        """Layers needed to reach ``adapter_bytes`` (rounded up to whole layers)."""
        return max(1, math.ceil(self.adapter_bytes / self.layer_bytes))

    def cache_tag(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


@dataclass
class GeneratedFile:
    filename: str
    path: Path
    size: int
    sha256: str


@dataclass
class Manifest:
    files: dict[str, GeneratedFile] = field(default_factory=dict)


def _tensor_layout(spec: AdapterSpec) -> list[tuple[str, tuple[int, int]]]:
    tensors = []
    for layer in range(spec.num_layers):
        for module in spec.target_modules:
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            tensors.append((f"{prefix}.lora_A.weight", (spec.rank, spec.hidden_size)))
            tensors.append((f"{prefix}.lora_B.weight", (spec.hidden_size, spec.rank)))
    return tensors


def safetensors_header(spec: AdapterSpec) -> bytes:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in _tensor_layout(spec):
        nbytes = shape[0] * shape[1] * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the format aligns tensor data to 8 bytes
    return struct.pack("<Q", len(encoded)) + encoded


def write_safetensors(path: Path, spec: AdapterSpec, seed: int) -> None:
    import numpy as np  # the "demo" extra: only generating files needs it, not the site

    rng = np.random.default_rng(seed)
    with path.open("wb") as out:
        out.write(safetensors_header(spec))
        for name, shape in _tensor_layout(spec):
            remaining = shape[0] * shape[1]
            scale = 0.02 if name.endswith("lora_A.weight") else 0.002
            while remaining:
                count = min(remaining, CHUNK_ELEMENTS)
                values = rng.standard_normal(count, dtype=np.float32)
                values *= scale
                out.write(values.tobytes())
                remaining -= count


def _json_files(spec: AdapterSpec, job_id: str) -> dict[str, object]:
    vocab = {f"<tok{i}>": i for i in range(256)}
    return {
        "adapter_config.json": {
            "base_model_name_or_path": spec.base_model,
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "r": spec.rank,
            "lora_alpha": spec.lora_alpha,
            "lora_dropout": spec.lora_dropout,
            "target_modules": list(spec.target_modules),
            "bias": "none",
            "fan_in_fan_out": False,
            "inference_mode": True,
            "modules_to_save": None,
            "revision": None,
        },
        "tokenizer_config.json": {
            "tokenizer_class": "LlamaTokenizerFast",
            "model_max_length": 4096,
            "bos_token": "<s>",
            "eos_token": "</s>",
            "pad_token": "</s>",
            "padding_side": "right",
        },
        "special_tokens_map.json": {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "</s>"},
        "tokenizer.json": {
            "version": "1.0",
            "model": {"type": "BPE", "vocab": vocab, "merges": []},
            "added_tokens": [
                {"id": 1, "content": "<s>", "special": True},
                {"id": 2, "content": "</s>", "special": True},
            ],
        },
        "training_args.json": {
            "external_job_id": job_id,
            "learning_rate": 2e-4,
            "num_train_epochs": 3,
            "per_device_train_batch_size": 4,
            "gradient_accumulation_steps": 4,
            "lr_scheduler_type": "cosine",
            "warmup_ratio": 0.03,
            "bf16": True,
            "lora_r": spec.rank,
        },
    }


def _digest(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def generate(cache_root: Path, job_id: str, spec: AdapterSpec) -> Manifest:
    """Generate (or reuse) the files of ``job_id`` and return their manifest."""
    folder = cache_root / f"{job_id}-{spec.cache_tag()}"
    with _locks_guard:
        lock = _locks.setdefault(str(folder), threading.Lock())
    with lock:
        manifest_path = folder / "manifest.json"
        if manifest_path.exists():
            recorded = json.loads(manifest_path.read_text())
            return Manifest(
                files={
                    name: GeneratedFile(name, folder / name, entry["size"], entry["sha256"])
                    for name, entry in recorded.items()
                }
            )
        folder.mkdir(parents=True, exist_ok=True)
        seed = int(hashlib.sha256(job_id.encode()).hexdigest()[:8], 16)
        for name, content in _json_files(spec, job_id).items():
            (folder / name).write_text(json.dumps(content, indent=2) + "\n")
        tmp = folder / "adapter_model.safetensors.part"
        write_safetensors(tmp, spec, seed)
        os.replace(tmp, folder / "adapter_model.safetensors")
        files = {}
        for path in sorted(folder.iterdir()):
            if path.name == "manifest.json" or path.suffix == ".part":
                continue
            size, sha = _digest(path)
            files[path.name] = GeneratedFile(path.name, path, size, sha)
        manifest_path.write_text(
            json.dumps({n: {"size": f.size, "sha256": f.sha256} for n, f in files.items()}, indent=2)
        )
        return Manifest(files=files)
