"""Finding codes, their fixed severities and the verdict rule of the inspection contract (DESIGN §10)."""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"
INFO = "info"

# The contract's codes with the severities it fixes, then the codes this package adds.
SEVERITY: dict[str, str] = {
    "no_adapter_weights": ERROR,
    "config_invalid": ERROR,
    "safetensors_invalid": ERROR,
    "nonfinite_values": ERROR,
    "untrained_lora_b": ERROR,
    "missing_lora_pair": ERROR,
    "rank_mismatch": ERROR,
    "module_not_targeted": WARNING,
    "modules_to_save": WARNING,
    "dora": WARNING,
    "pickle_format": WARNING,
    "job_config_mismatch": WARNING,
    # Added here: an adapter without a single LoRA tensor does nothing once loaded.
    "no_lora_tensors": ERROR,
    # Added here: a training-machine path instead of a hub id breaks loaders that resolve the base
    # model (text-generation-inference#1334, transformers#43746; vLLM's resolver needs a hub-style id).
    "base_model_local_path": WARNING,
    "peft_type_not_lora": WARNING,
    "partly_zero_lora_b": INFO,
    "pickle_files": INFO,
    "target_modules_unchecked": INFO,
}


@dataclass(frozen=True)
class Finding:
    code: str
    message: str

    @property
    def severity(self) -> str:
        return SEVERITY.get(self.code, WARNING)

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message}


def findings_verdict(findings: list[Finding]) -> str:
    """Any error makes the adapter unusable; otherwise any warning gives ``warnings``."""
    severities = {finding.severity for finding in findings}
    if ERROR in severities:
        return "unusable"
    if WARNING in severities:
        return "warnings"
    return "ok"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def are(count: int) -> str:
    return "is" if count == 1 else "are"


def have(count: int) -> str:
    return "has" if count == 1 else "have"


def examples(names: list[str], limit: int = 3) -> str:
    """``a, b, c and 4 more`` for messages that must stay one readable sentence."""
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown
