"""PEFT LoRA semantics: ``adapter_config.json`` fields and what the tensor names and shapes say.

Sources (peft/tuners/lora/config.py, peft/tuners/lora/layer.py L263-264 and L304,
peft/utils/save_and_load.py): keys are ``base_model.model.<module>.lora_A.weight`` shaped
``[r, in]`` and ``<module>.lora_B.weight`` shaped ``[out, r]`` (the adapter name is stripped when
saving); embeddings use ``lora_embedding_A`` ``[r, vocab]`` / ``lora_embedding_B`` ``[dim, r]``;
DoRA adds ``<module>.lora_magnitude_vector``; ``modules_to_save`` stores full copies of whole
modules under their own names. ``r`` is the config's ``r`` unless ``rank_pattern`` names the
module. lora_B is zero-initialised (layer.py L304), so an all-zero lora_B leaves the base model
unchanged. PEFT loads with ``strict=False`` and only warns on missing keys (peft_model.py
L624-640), which is why these checks run at ingest.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from artifacts.inspection.safetensors_header import TensorInfo

_LORA_SUFFIXES = (
    (".lora_A.weight", "A"),
    (".lora_B.weight", "B"),
    (".lora_embedding_A.weight", "A"),
    (".lora_embedding_B.weight", "B"),
    (".lora_embedding_A", "A"),
    (".lora_embedding_B", "B"),
    (".lora_magnitude_vector.weight", "magnitude"),
    (".lora_magnitude_vector", "magnitude"),
    (".lora_B.bias", "bias"),
)
EMBEDDING_NAMES = ("embed_tokens", "lm_head", "wte", "embed_in", "embed_out", "word_embeddings", "output")
# Nested quantifiers such as ``(a+)+`` can make a regex run for exponential time; the patterns
# come from an untrusted file, so such patterns are not evaluated.
_DANGEROUS_REGEX = re.compile(r"\([^)]*[*+}][^)]*\)\s*[*+{]")
MAX_PATTERN_LENGTH = 1000


@dataclass
class AdapterConfig:
    """The fields of ``adapter_config.json`` that decide loading and serving."""

    raw: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def peft_type(self) -> str | None:
        value = self.raw.get("peft_type")
        return value if isinstance(value, str) else None

    @property
    def task_type(self) -> str | None:
        value = self.raw.get("task_type")
        return value if isinstance(value, str) else None

    @property
    def base_model(self) -> str | None:
        value = self.raw.get("base_model_name_or_path")
        return value if isinstance(value, str) and value else None

    @property
    def r(self) -> int | None:
        value = self.raw.get("r")
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None

    @property
    def lora_alpha(self) -> float | None:
        value = self.raw.get("lora_alpha")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None  # NaN would also make the report invalid JSON for PostgreSQL
        return value

    @property
    def target_modules(self) -> list[str] | str | None:
        value = self.raw.get("target_modules")
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return value
        return None

    @property
    def rank_pattern(self) -> dict[str, int]:
        value = self.raw.get("rank_pattern")
        if not isinstance(value, dict):
            return {}
        return {k: v for k, v in value.items() if isinstance(v, int) and not isinstance(v, bool) and v > 0}

    @property
    def alpha_pattern(self) -> dict[str, float]:
        value = self.raw.get("alpha_pattern")
        if not isinstance(value, dict):
            return {}
        return {k: v for k, v in value.items() if isinstance(v, int | float) and math.isfinite(v)}

    @property
    def use_dora(self) -> bool:
        return self.raw.get("use_dora") is True

    @property
    def modules_to_save(self) -> list[str]:
        value = self.raw.get("modules_to_save")
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    @property
    def bias(self) -> str:
        value = self.raw.get("bias")
        return value if isinstance(value, str) else "none"

    @property
    def max_rank(self) -> int | None:
        ranks = [rank for rank in [self.r, *self.rank_pattern.values()] if rank]
        return max(ranks) if ranks else None


def parse_config(data: bytes) -> AdapterConfig:
    """Parse ``adapter_config.json``; ``problems`` lists why it cannot be used (empty when fine)."""
    import json

    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return AdapterConfig({}, ["adapter_config.json is not valid JSON."])
    if not isinstance(raw, dict):
        return AdapterConfig({}, ["adapter_config.json is not a JSON object."])
    config = AdapterConfig(raw)
    # vLLM requires exactly these three (vllm/lora/peft_helper.py, PEFTHelper required fields).
    if config.r is None:
        config.problems.append("adapter_config.json has no positive integer r.")
    if config.lora_alpha is None:
        config.problems.append("adapter_config.json has no numeric lora_alpha.")
    if config.target_modules is None:
        config.problems.append("adapter_config.json has no target_modules (a list of names or a regex).")
    return config


def safe_pattern(pattern: str) -> bool:
    if len(pattern) > MAX_PATTERN_LENGTH or _DANGEROUS_REGEX.search(pattern):
        return False
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def is_targeted(module: str, target_modules: list[str] | str) -> bool | None:
    """PEFT's rule (tuners_utils.check_target_module_exists): a list entry matches the module name
    or its last dotted parts; a string is a regex that must match the full name. None: not judged."""
    if isinstance(target_modules, str):
        if target_modules == "all-linear":
            return True
        if not safe_pattern(target_modules):
            return None
        return re.fullmatch(target_modules, module) is not None
    return any(module == target or module.endswith("." + target) for target in target_modules)


def expected_rank(module: str, config: AdapterConfig) -> int | None:
    """``rank_pattern`` entries override ``r`` (peft get_pattern_key: ``(.*\\.)?key$``)."""
    for key, rank in config.rank_pattern.items():
        if module == key or module.endswith("." + key):
            return rank
        if safe_pattern(key) and re.fullmatch(rf"(.*\.)?(?:{key})", module):
            return rank
    return config.r


def module_path(tensor_name: str) -> str:
    """``base_model.model.model.layers.0.self_attn.q_proj`` -> ``model.layers.0.self_attn.q_proj``."""
    return tensor_name.removeprefix("base_model.model.")


@dataclass
class LoraModule:
    name: str
    a: TensorInfo | None = None
    b: TensorInfo | None = None
    magnitude: TensorInfo | None = None


@dataclass
class TensorLayout:
    """The adapter's tensors sorted into LoRA modules and everything else."""

    modules: dict[str, LoraModule] = field(default_factory=dict)
    full_tensors: list[TensorInfo] = field(default_factory=list)  # modules_to_save copies and the like
    bias_tensors: list[TensorInfo] = field(default_factory=list)

    @property
    def embedding_full_tensors(self) -> list[TensorInfo]:
        return [t for t in self.full_tensors if any(part in EMBEDDING_NAMES for part in t.name.split("."))]

    @property
    def lora_b(self) -> list[TensorInfo]:
        return [m.b for m in self.modules.values() if m.b is not None]

    @property
    def has_magnitude(self) -> bool:
        return any(m.magnitude is not None for m in self.modules.values())


def classify(tensors: list[TensorInfo]) -> TensorLayout:
    layout = TensorLayout()
    for tensor in tensors:
        for suffix, kind in _LORA_SUFFIXES:
            if tensor.name.endswith(suffix):
                name = module_path(tensor.name[: -len(suffix)])
                if kind == "bias":
                    layout.bias_tensors.append(tensor)
                    break
                module = layout.modules.setdefault(name, LoraModule(name))
                setattr(module, kind.lower(), tensor)
                break
        else:
            layout.full_tensors.append(tensor)
    return layout


def tensor_rank(tensor: TensorInfo, kind: str) -> int | None:
    """A is ``[r, in, ...]``; B is ``[out, r, ...]`` (conv LoRA keeps the kernel dims)."""
    if len(tensor.shape) < 2:
        return None
    return tensor.shape[0] if kind == "A" else tensor.shape[1]
