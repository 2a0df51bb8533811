"""Generate the files a LoRA training run leaves behind, in PEFT's format, without holding them in memory.

``adapter_model.safetensors`` holds exactly the tensors PEFT's ``save_pretrained`` writes for the
job's base model (``base_models.BASE_MODELS``), rank, target modules and dtype: one lora_A
``(r, in_features)`` and lora_B ``(out_features, r)`` per targeted module in every decoder layer,
named ``base_model.model.model.layers.N.{self_attn|mlp}.MODULE.lora_{A|B}.weight``
(peft/utils/save_and_load.py, ``get_peft_model_state_dict``, drops the adapter name from the keys).
It is written tensor by tensor in 4 MiB chunks, so gigabyte adapters need no more memory than small
ones. Everything is generated once per (job, spec) into a cache folder, with each file's size and
sha256 recorded beside it.

Size: by default an adapter covers every layer of its base model, as a real run's does; that is
what demo jobs always get. Benchmarks ask for a byte budget instead (``adapter_bytes``, the
simulator's ``--adapter-mb``): below the full adapter the file covers the first N layers and its
adapter_config.json says so with ``layers_to_transform`` (a LoraConfig field, so PEFT still loads
it); above it the layers go on past the model's last one, which no real model has: such a file is
only byte volume for transfer benchmarks and would not load (PEFT reports the extra layers as
unexpected keys). ``AdapterSpec.beyond_model`` tells which.

A spec may carry one adapter fault, the ways real runs go wrong (picked by a word in the job id,
see ``spec_for_job``): ``untrained`` (every lora_B still zero), ``nan-weights``, ``rank-mismatch``
(tensors of twice the configured rank), ``short-header`` (the file stops inside its safetensors
header; the advertised sha256 is of those bytes, so the transfer succeeds), ``lm-head``
(modules_to_save with the base model's full lm_head, ``vocab_size x hidden_size``), ``dora``
(plus one ``lora_magnitude_vector`` of out_features per module), ``pickle-only``
(adapter_model.bin) and ``no-weights`` (no weights file at all).

The tokenizer files are small stand-ins (256 tokens); the product makes no claim about them and
loading the adapter never reads them.
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
from typing import Any

import numpy as np

from pipeline.simulator.base_models import BASE_MODELS, MODULE_PARENTS, BaseModelConfig

CHUNK_ELEMENTS = 1024 * 1024  # values per write: 4 MiB of float32
FAULTS = ("untrained", "nan-weights", "rank-mismatch", "short-header", "lm-head", "dora", "pickle-only", "no-weights")
DTYPE_SIZES = {"F32": 4, "F16": 2, "BF16": 2}
POOL_SLACK = 64 * 1024  # extra values in each random pool, so chunks start at varying offsets

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class AdapterSpec:
    base_model: str = "mistralai/Mistral-7B-v0.1"
    rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    adapter_bytes: int | None = None  # None: every layer of the base model; else a benchmark's byte budget
    dtype: str = "F32"  # F32 | F16 | BF16
    fault: str = ""  # "" or one of FAULTS

    def __post_init__(self) -> None:
        if self.base_model not in BASE_MODELS:
            raise ValueError(f"Unknown base model {self.base_model!r}; the simulator knows {sorted(BASE_MODELS)}.")
        unknown = [module for module in self.target_modules if module not in MODULE_PARENTS]
        if unknown:
            raise ValueError(f"Target modules {unknown} are not linear modules of {self.base_model}.")
        if self.dtype not in DTYPE_SIZES:
            raise ValueError(f"Unknown dtype {self.dtype!r}.")
        if self.fault and self.fault not in FAULTS:
            raise ValueError(f"Unknown adapter fault {self.fault!r}.")

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
        if hyperparameters.get("dtype") in DTYPE_SIZES:
            values["dtype"] = hyperparameters["dtype"]
        values.update(overrides)
        return cls(**values)

    @property
    def architecture(self) -> BaseModelConfig:
        return BASE_MODELS[self.base_model]

    @property
    def element_size(self) -> int:
        return DTYPE_SIZES[self.dtype]

    @property
    def tensor_rank(self) -> int:
        """The rank the tensors really have: twice the configured one for ``rank-mismatch``."""
        return self.rank * 2 if self.fault == "rank-mismatch" else self.rank

    @property
    def layer_bytes(self) -> int:
        """Bytes of one decoder layer's tensors (A, B and, for DoRA, the magnitude vector)."""
        total = 0
        for module in self.target_modules:
            in_features, out_features = self.architecture.features(module)
            total += self.tensor_rank * (in_features + out_features)
            total += out_features if self.fault == "dora" else 0
        return total * self.element_size

    @property
    def num_layers(self) -> int:
        """The base model's layer count, or the layers needed to reach ``adapter_bytes`` (rounded up)."""
        if self.adapter_bytes is None:
            return self.architecture.num_hidden_layers
        return max(1, math.ceil(self.adapter_bytes / self.layer_bytes))

    @property
    def layers_to_transform(self) -> list[int] | None:
        """Set in adapter_config.json when a byte budget covers fewer layers than the model has."""
        if self.num_layers < self.architecture.num_hidden_layers:
            return list(range(self.num_layers))
        return None

    @property
    def beyond_model(self) -> bool:
        """True when a byte budget needs more layers than the model has: benchmark bytes, not a loadable adapter."""
        return self.num_layers > self.architecture.num_hidden_layers

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
    """Tensor names and shapes as PEFT saves them for ``spec``'s base model (see the module docstring)."""
    tensors: list[tuple[str, tuple[int, ...]]] = []
    rank = spec.tensor_rank
    architecture = spec.architecture
    for layer in range(spec.num_layers):
        for module in spec.target_modules:
            in_features, out_features = architecture.features(module)
            prefix = f"base_model.model.model.layers.{layer}.{MODULE_PARENTS[module]}.{module}"
            tensors.append((f"{prefix}.lora_A.weight", (rank, in_features)))
            tensors.append((f"{prefix}.lora_B.weight", (out_features, rank)))
            if spec.fault == "dora":  # PEFT saves DoRA magnitudes without the ".weight" suffix
                tensors.append((f"{prefix}.lora_magnitude_vector", (out_features,)))
    if spec.fault == "lm-head":  # modules_to_save stores the whole module under its own name
        tensors.append(("base_model.model.lm_head.weight", (architecture.vocab_size, architecture.hidden_size)))
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


class _Pools:
    """Encoded random values drawn once per file; ordinary chunks are slices at random offsets.

    Drawing normal values costs more than writing them; slicing a pre-drawn pool keeps generating
    hundreds of MB (a full lm_head, a rank-64 adapter) at disk speed.
    """

    def __init__(self, spec: AdapterSpec, rng: np.random.Generator):
        import numpy as np

        normal = rng.standard_normal(CHUNK_ELEMENTS + POOL_SLACK, dtype=np.float32)
        self.size = spec.element_size
        self.a = memoryview(_encode(normal * np.float32(0.02), spec.dtype))
        self.b = memoryview(_encode(normal[::-1] * np.float32(0.002), spec.dtype))
        self.rng = rng

    def chunk(self, name: str, count: int) -> memoryview:
        pool = self.b if name.endswith("lora_B.weight") else self.a
        start = int(self.rng.integers(POOL_SLACK)) * self.size
        return pool[start : start + count * self.size]


def write_safetensors(path: Path, spec: AdapterSpec, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pools = _Pools(spec, rng)
    header = safetensors_header(spec)
    first_b = True
    with path.open("wb") as out:
        out.write(header)
        for name, shape in _tensor_layout(spec):
            special = (
                name.endswith("lora_magnitude_vector")
                or (spec.fault == "untrained" and name.endswith("lora_B.weight"))
                or (spec.fault == "nan-weights" and first_b and "lora_B" in name)
            )
            remaining = _numel(shape)
            while remaining:
                count = min(remaining, CHUNK_ELEMENTS)
                if special:
                    out.write(_encode(_values(name, count, spec, rng, first_b and "lora_B" in name), spec.dtype))
                else:
                    out.write(pools.chunk(name, count))
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
            "layers_to_transform": spec.layers_to_transform,
            "layers_pattern": None,
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
