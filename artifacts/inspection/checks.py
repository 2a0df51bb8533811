"""Turn a parsed config, a scanned safetensors file and the job's hyperparameters into findings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from artifacts.inspection.findings import Finding, are, examples, have, plural
from artifacts.inspection.peft import AdapterConfig, TensorLayout, expected_rank, is_targeted, tensor_rank
from artifacts.inspection.safetensors_stream import SafetensorsStream

_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")


def looks_local(base_model: str) -> bool:
    """A hub id is ``name`` or ``org/name``; anything path-like names the training machine's disk."""
    return (
        base_model.startswith(("/", "./", "../", "~", "\\"))
        or bool(_WINDOWS_PATH.match(base_model))
        or "\\" in base_model
        or base_model.count("/") > 1
    )


def config_findings(config: AdapterConfig) -> list[Finding]:
    findings = [Finding("config_invalid", problem) for problem in config.problems]
    if config.peft_type is not None and config.peft_type.upper() != "LORA":
        findings.append(
            Finding("peft_type_not_lora", f"peft_type is {config.peft_type!r}; these checks and engines expect LORA.")
        )
    base = config.base_model
    if base and looks_local(base):
        findings.append(
            Finding(
                "base_model_local_path",
                f"base_model_name_or_path is a local path ({base!r}), so loaders will not find the base model "
                "until you point them at a hub id or your own copy.",
            )
        )
    return findings


def tensor_findings(config: AdapterConfig | None, stream: SafetensorsStream, layout: TensorLayout) -> list[Finding]:
    findings: list[Finding] = []
    if not layout.modules:
        findings.append(
            Finding("no_lora_tensors", "The weights file holds no lora_A/lora_B tensors, so it changes nothing.")
        )
    nonfinite = [t for t in stream.tensors if t.nonfinite]
    if nonfinite:
        total = sum(t.nonfinite for t in nonfinite)
        findings.append(
            Finding(
                "nonfinite_values",
                f"{plural(total, 'value')} {are(total)} NaN or infinite in {plural(len(nonfinite), 'tensor')} "
                f"({examples([t.name for t in nonfinite])}).",
            )
        )
    unpaired = [m.name for m in layout.modules.values() if (m.a is None) != (m.b is None)]
    if unpaired:
        findings.append(
            Finding(
                "missing_lora_pair",
                f"{plural(len(unpaired), 'module')} {have(len(unpaired))} a lora_A without its lora_B or the reverse "
                f"({examples(unpaired)}).",
            )
        )
    findings += _rank_findings(config, layout)
    findings += _target_findings(config, layout)
    lora_b = layout.lora_b
    if lora_b and all(t.complete for t in lora_b):
        zero = [t.name for t in lora_b if t.all_zero]
        if len(zero) == len(lora_b):
            findings.append(
                Finding(
                    "untrained_lora_b",
                    "Every lora_B tensor is all zeros, as initialised before training, so the adapter does nothing.",
                )
            )
        elif zero:
            findings.append(
                Finding(
                    "partly_zero_lora_b",
                    f"{plural(len(zero), 'lora_B tensor')} {are(len(zero))} all zeros ({examples(zero)}).",
                )
            )
    return findings


def _rank_findings(config: AdapterConfig | None, layout: TensorLayout) -> list[Finding]:
    wrong: list[str] = []
    for module in layout.modules.values():
        if module.a is None or module.b is None:
            continue
        rank_a, rank_b = tensor_rank(module.a, "A"), tensor_rank(module.b, "B")
        expected = expected_rank(module.name, config) if config is not None else None
        if rank_a is None or rank_b is None or rank_a != rank_b or (expected is not None and rank_a != expected):
            wanted = f", config says {expected}" if expected is not None else ""
            wrong.append(f"{module.name} (A {list(module.a.shape)}, B {list(module.b.shape)}{wanted})")
    if not wrong:
        return []
    return [
        Finding(
            "rank_mismatch",
            f"{plural(len(wrong), 'module')} {have(len(wrong))} LoRA shapes that disagree with the rank: "
            f"{examples(wrong, 2)}.",
        )
    ]


def _target_findings(config: AdapterConfig | None, layout: TensorLayout) -> list[Finding]:
    targets = config.target_modules if config is not None else None
    if targets is None or not layout.modules:
        return []
    verdicts = {name: is_targeted(name, targets) for name in layout.modules}
    if any(v is None for v in verdicts.values()):
        return [Finding("target_modules_unchecked", "target_modules is a regex too complex to evaluate safely.")]
    outside = [name for name, targeted in verdicts.items() if not targeted]
    if not outside:
        return []
    return [
        Finding(
            "module_not_targeted",
            f"{plural(len(outside), 'LoRA module')} {are(len(outside))} not in target_modules ({examples(outside)}).",
        )
    ]


def extras_findings(config: AdapterConfig | None, layout: TensorLayout | None) -> list[Finding]:
    """DoRA and modules_to_save, from the config and from the tensors, one finding each."""
    findings = []
    magnitude = layout is not None and layout.has_magnitude
    if (config is not None and config.use_dora) or magnitude:
        findings.append(
            Finding(
                "dora",
                "The adapter uses DoRA (use_dora / lora_magnitude_vector); PEFT loads it but vLLM does not.",
            )
        )
    saved = list(config.modules_to_save) if config is not None else []
    full = [t.name for t in layout.full_tensors] if layout is not None else []
    if saved or full:
        what = examples(saved or full)
        findings.append(
            Finding(
                "modules_to_save",
                f"The adapter carries full weights besides LoRA ({what}), which vLLM and llama.cpp refuse.",
            )
        )
    return findings


def _job_value(hyperparameters: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if hyperparameters.get(key) not in (None, ""):
            return hyperparameters[key]
    return None


def _same_model(job_base: str, adapter_base: str) -> bool:
    """Equal ids, or a local copy whose folder has the hub model's name (the local-path finding says the rest)."""
    job, adapter = job_base.strip().lower(), adapter_base.strip().lower()
    if job == adapter:
        return True
    if looks_local(adapter_base):
        return re.split(r"[\\/]", adapter.rstrip("/\\"))[-1] == job.split("/")[-1]
    return False


def job_findings(config: AdapterConfig | None, hyperparameters: Mapping[str, Any] | None) -> list[Finding]:
    """Compare rank, alpha and base model with what the job was asked to train."""
    if config is None or not hyperparameters:
        return []
    differences = []
    rank = _job_value(hyperparameters, "rank", "r", "lora_r", "lora_rank")
    if isinstance(rank, int | float) and config.r is not None and rank != config.r:
        differences.append(f"rank {config.r} (job: {rank})")
    alpha = _job_value(hyperparameters, "lora_alpha", "alpha")
    if isinstance(alpha, int | float) and config.lora_alpha is not None and alpha != config.lora_alpha:
        differences.append(f"lora_alpha {config.lora_alpha} (job: {alpha})")
    base = _job_value(hyperparameters, "base_model", "base_model_name_or_path", "model_name", "model")
    if isinstance(base, str) and config.base_model and not _same_model(base, config.base_model):
        differences.append(f"base model {config.base_model} (job: {base})")
    if not differences:
        return []
    return [Finding("job_config_mismatch", f"The adapter differs from the job's settings: {', '.join(differences)}.")]
