"""Generate the files a LoRA training run leaves behind, in PEFT's format, without holding them in memory.

``adapter_model.safetensors`` is a valid safetensors file whose LoRA A/B tensors are shaped by
the job's rank, hidden size, target modules and dtype; it is written tensor by tensor in 4 MiB
chunks, so gigabyte adapters need no more memory than small ones. Everything is generated once
per (job, spec) into a cache folder, with each file's size and sha256 recorded beside it.

A spec may carry one adapter fault, the ways real runs go wrong (picked by a word in the job id,
see ``spec_for_job``): ``untrained`` (every lora_B still zero), ``nan-weights``, ``rank-mismatch``
(tensors of twice the configured rank), ``short-header`` (the file stops inside its safetensors
header; the advertised sha256 is of those bytes, so the transfer succeeds), ``lm-head``
(modules_to_save with a full lm_head), ``dora``, ``pickle-only`` (adapter_model.bin) and
``no-weights`` (no weights file at all).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the "demo" extra: only generating files needs numpy, not the site
    import numpy as np

CHUNK_ELEMENTS = 1024 * 1024  # values per write: 4 MiB of float32
FAULTS = ("untrained", "nan-weights", "rank-mismatch", "short-header", "lm-head", "dora", "pickle-only", "no-weights")
DTYPE_SIZES = {"F32": 4, "F16": 2, "BF16": 2}
HIDDEN_SIZES = {"mistralai/Mistral-7B-v0.1": 4096, "meta-llama/Llama-3.1-8B": 4096, "Qwen/Qwen2.5-7B": 3584}

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
    dtype: str = "F32"  # F32 | F16 | BF16
    fault: str = ""  # "" or one of FAULTS
    vocab_size: int = 256  # matches the simulated tokenizer

    @classmethod
    def from_hyperparameters(cls, hyperparameters: Mapping[str, Any], **overrides: Any) -> AdapterSpec:
        """The adapter a job with these hyperparameters produces (unknown keys keep the defaults)."""
        values: dict[str, Any] = {}
        if isinstance(hyperparameters.get("rank"), int):
            values["rank"] = hyperparameters["rank"]
        if isinstance(hyperparameters.get("lora_alpha"), int | float):
            values["lora_alpha"] = hyperparameters["lora_alpha"]
        if isinstance(hyperparameters.get("lora_dropout"), int | float):
            values["lora_dropout"] = hyperparameters["lora_dropout"]
        if isinstance(hyperparameters.get("target_modules"), list | tuple):
            values["target_modules"] = tuple(hyperparameters["target_modules"])
        if isinstance(hyperparameters.get("base_model"), str):
            values["base_model"] = hyperparameters["base_model"]
            values["hidden_size"] = HIDDEN_SIZES.get(values["base_model"], cls.hidden_size)
        if hyperparameters.get("dtype") in DTYPE_SIZES:
            values["dtype"] = hyperparameters["dtype"]
        values.update(overrides)
        return cls(**values)

    @property
    def element_size(self) -> int:
        return DTYPE_SIZES[self.dtype]

    @property
    def tensor_rank(self) -> int:
        """The rank the tensors really have: twice the configured one for ``rank-mismatch``."""
        return self.rank * 2 if self.fault == "rank-mismatch" else self.rank

    @property
    def layer_bytes(self) -> int:
        return len(self.target_modules) * 2 * self.tensor_rank * self.hidden_size * self.element_size

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


def spec_for_job(job_id: str, spec: AdapterSpec) -> AdapterSpec:
    """Apply the first adapter fault named in the job id, unless the spec already has one."""
    if spec.fault:
        return spec
    fault = next((word for word in FAULTS if word in job_id), "")
    return replace(spec, fault=fault) if fault else spec


def _tensor_layout(spec: AdapterSpec) -> list[tuple[str, tuple[int, ...]]]:
    tensors: list[tuple[str, tuple[int, ...]]] = []
    rank = spec.tensor_rank
    for layer in range(spec.num_layers):
        for module in spec.target_modules:
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            tensors.append((f"{prefix}.lora_A.weight", (rank, spec.hidden_size)))
            tensors.append((f"{prefix}.lora_B.weight", (spec.hidden_size, rank)))
            if spec.fault == "dora":  # PEFT saves DoRA magnitudes without the ".weight" suffix
                tensors.append((f"{prefix}.lora_magnitude_vector", (spec.hidden_size,)))
    if spec.fault == "lm-head":  # modules_to_save stores the whole module under its own name
        tensors.append(("base_model.model.lm_head.weight", (spec.vocab_size, spec.hidden_size)))
    return tensors


def _numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def safetensors_header(spec: AdapterSpec) -> bytes:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in _tensor_layout(spec):
        nbytes = _numel(shape) * spec.element_size
        header[name] = {"dtype": spec.dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the format aligns tensor data to 8 bytes
    return struct.pack("<Q", len(encoded)) + encoded


def _encode(values: np.ndarray, dtype: str) -> bytes:
    import numpy as np

    if dtype == "F16":
        return values.astype(np.float16).tobytes()
    if dtype == "BF16":  # bfloat16 is the upper half of a float32
        return (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    return values.tobytes()


def _values(name: str, count: int, spec: AdapterSpec, rng: np.random.Generator, first_b: bool) -> np.ndarray:
    import numpy as np

    if name.endswith("lora_magnitude_vector"):
        return 1 + rng.standard_normal(count, dtype=np.float32) * 0.01
    if name.endswith("lora_B.weight") and spec.fault == "untrained":
        return np.zeros(count, dtype=np.float32)
    scale = 0.002 if name.endswith("lora_B.weight") else 0.02
    values = rng.standard_normal(count, dtype=np.float32) * np.float32(scale)
    if first_b and spec.fault == "nan-weights":  # an overflow that training did not stop at
        values[::97] = np.nan
        values[1] = np.inf
    return values


def write_safetensors(path: Path, spec: AdapterSpec, seed: int) -> None:
    import numpy as np  # the "demo" extra: only generating files needs it, not the site

    rng = np.random.default_rng(seed)
    header = safetensors_header(spec)
    first_b = True
    with path.open("wb") as out:
        out.write(header)
        for name, shape in _tensor_layout(spec):
            remaining = _numel(shape)
            while remaining:
                count = min(remaining, CHUNK_ELEMENTS)
                out.write(_encode(_values(name, count, spec, rng, first_b and "lora_B" in name), spec.dtype))
                remaining -= count
            first_b = first_b and "lora_B" not in name
        if spec.fault == "short-header":  # the upload stopped inside the header
            out.truncate(8 + (len(header) - 8) // 2)


def write_pickle(path: Path, spec: AdapterSpec) -> None:
    """A stand-in for ``torch.save`` output: pickle protocol 2 bytes naming the tensors.

    Written with the pickle opcodes only (PROTO, EMPTY_DICT, strings, SETITEMS, STOP), so the
    simulator never needs the pickle module; nothing in the product ever loads it.
    """
    body = bytearray(b"\x80\x02}(")  # PROTO 2, EMPTY_DICT, MARK
    for name, shape in _tensor_layout(spec):
        for text in (name, "x".join(str(d) for d in shape)):
            encoded = text.encode()
            body += b"X" + struct.pack("<I", len(encoded)) + encoded  # BINUNICODE
    body += b"u."  # SETITEMS, STOP
    path.write_bytes(bytes(body))


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
            "modules_to_save": ["lm_head"] if spec.fault == "lm-head" else None,
            "use_dora": spec.fault == "dora",
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
            "bf16": spec.dtype == "BF16",
            "fp16": spec.dtype == "F16",
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
        if spec.fault == "pickle-only":
            write_pickle(folder / "adapter_model.bin", spec)
        elif spec.fault != "no-weights":
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
