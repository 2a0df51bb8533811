"""The model card: a Hugging Face README (YAML front matter, then Markdown) built from plain values.

Front matter keys follow the Hub's model card metadata (``base_model``, ``base_model_relation``,
``library_name``, ``tags``, ``datasets``, ``metrics``); HF's Librarian Bot had to backfill
``base_model`` from adapter configs because trainers' cards leave it out, so it always comes first.
The YAML is written by hand: every string goes through ``json.dumps``, and a JSON string is a
valid YAML double-quoted scalar, so no value can break out of its field.

Every value in the Markdown (the model's name, the dataset's, the cluster's file names and config
values, messages) is plain text: :func:`_text` escapes what Markdown or HTML would read as markup,
so a name such as ``[x](javascript:alert(1))`` shows as those characters, never as a link, an image,
emphasis or a heading; :func:`_code` does the same inside inline code.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from artifacts.inspection.serving import AUTO_CLASSES
from pipeline.lib.numbers import binary_size

ENGINES = (("peft", "PEFT"), ("vllm", "vLLM"), ("lorax", "LoRAX"), ("llama_cpp", "llama.cpp"))
VERDICTS = {
    "ok": "No problems were found.",
    "warnings": "The adapter loads, with the warnings below.",
    "unusable": "The adapter is unusable as delivered; see the errors below.",
}
DIVERGED_SENTENCE = "The files passed inspection, but the training run diverged: the adapter is unusable."


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value) if math.isfinite(value) else "null"
    return json.dumps(str(value))


def _front_matter(fields: Mapping[str, Any]) -> str:
    lines = ["---"]
    for key, value in fields.items():
        if isinstance(value, list):
            if value:
                lines.append(f"{key}:")
                lines += [f"  - {_yaml(item)}" for item in value]
        elif value is not None:
            lines.append(f"{key}: {_yaml(value)}")
    lines.append("---")
    return "\n".join(lines)


# Characters that start inline markup: escapes, code, emphasis, strikethrough, links and images,
# headings' closing marks, table cells. A backslash before any ASCII punctuation shows it as itself.
_INLINE_MARKUP = frozenset("\\`*~[]#|")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}  # raw HTML, autolinks, character references
# What turns a line into a list item, a numbered item or a setext underline when the line starts with it.
_BLOCK_START = re.compile(r"^(\d*)([-+=.)])")


def _one_line(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, sort_keys=True)
    return " ".join(str(value).splitlines()).strip()


def _text(value: Any) -> str:
    """``value`` as one line of Markdown that reads as exactly its characters: no link, image,
    emphasis, code, heading, list, table cell break or HTML can come out of it."""
    text = _one_line(value)
    out = []
    for index, char in enumerate(text):
        if char in _ENTITIES:
            out.append(_ENTITIES[char])
        elif char in _INLINE_MARKUP or (char == "_" and not _inside_word(text, index)):
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _line(value: Any) -> str:
    """:func:`_text` for a value that starts a line of its own."""
    return _BLOCK_START.sub(r"\1\\\2", _text(value), count=1)


def _inside_word(text: str, index: int) -> bool:
    """An underscore between two letters or digits (``learning_rate``) cannot open or close emphasis."""
    return 0 < index < len(text) - 1 and text[index - 1].isalnum() and text[index + 1].isalnum()


def _code(value: Any) -> str:
    """``value`` as inline code: fenced by more backticks than any run inside it, so it cannot end
    early; code shows its characters as they are, so nothing else needs escaping."""
    text = _one_line(value) if value is not None else ""
    if not text:
        return "-"
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _cell(value: Any) -> str:
    """A Markdown table cell (or any value in running text): plain text, numbers shown plainly."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return _text(value)


def _table(headers: tuple[str, ...], rows: Iterable[Iterable[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _fence(text: str, language: str = "") -> list[str]:
    longest = max((len(run) for run in text.split("\n") if set(run) == {"`"}), default=0)
    ticks = "`" * max(3, longest + 1)
    while ticks in text:
        ticks += "`"
    return [f"{ticks}{language}", text, ticks]


def _size(size: Any) -> str:
    return binary_size(size) if isinstance(size, int) else "-"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def model_card(
    *,
    name: str,
    dataset_name: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    quality_metrics: Mapping[str, Any] | None = None,
    training_summary: Mapping[str, Any] | None = None,
    inspection: Mapping[str, Any] | None = None,
    health: Mapping[str, Any] | None = None,
    files: Iterable[Mapping[str, Any]] | None = None,
    folder: str = ".",
    verdict: str | None = None,
) -> str:
    """README.md text for one artifact; every argument is optional except the name. ``verdict`` is
    the model's (DESIGN §14): an ``unusable`` model's card offers no load or serving command, only
    what is wrong."""
    configuration = _mapping(configuration)
    hyper = _mapping(configuration.get("hyperparameters"))
    quality = _mapping(quality_metrics)
    summary = _mapping(training_summary)
    # The files passed inspection, but the run did not (DESIGN §14): the card must not say "no problems".
    diverged = verdict == "unusable" and _mapping(inspection).get("verdict") != "unusable"
    facts = _mapping(_mapping(inspection).get("adapter"))
    base_model = facts.get("base_model") or hyper.get("base_model")
    rank = facts.get("r") or hyper.get("rank")
    alpha = facts.get("lora_alpha") or hyper.get("lora_alpha")

    tags = ["peft", "lora"]
    if base_model:
        tags.append(f"base_model:adapter:{base_model}")
    metrics = []
    if quality.get("final_training_loss") is not None or quality.get("final_validation_loss") is not None:
        metrics.append("loss")
    if quality.get("perplexity") is not None:
        metrics.append("perplexity")
    front = _front_matter(
        {
            "base_model": base_model,
            "base_model_relation": "adapter" if base_model else None,
            "library_name": "peft",
            "tags": tags,
            "datasets": [dataset_name] if dataset_name else [],
            "metrics": metrics,
        }
    )
    lines = [
        front,
        "",
        f"# {_cell(name)}",
        "",
        _summary(base_model, dataset_name, rank, alpha, summary, inspection, diverged),
        "",
    ]
    lines += _configuration(configuration, hyper, facts)
    lines += _results(quality, summary)
    lines += _health(health)
    lines += _inspection(inspection, diverged=diverged)
    lines += _files(files)
    if verdict == "unusable":
        lines += _not_ready(inspection, health)
    else:
        lines += _how_to_load(base_model, folder, facts.get("task_type"))
    return "\n".join(lines).rstrip() + "\n"


def _summary(
    base_model: Any,
    dataset_name: str | None,
    rank: Any,
    alpha: Any,
    summary: Mapping[str, Any],
    inspection: Mapping[str, Any] | None,
    diverged: bool = False,
) -> str:
    parts = ["A LoRA adapter"]
    if rank:
        parts.append(f"(r={_cell(rank)}" + (f", alpha={_cell(alpha)})" if alpha is not None else ")"))
    if base_model:
        parts.append(f"for {_code(base_model)}")
    if dataset_name:
        parts.append(f"fine-tuned on the dataset {_cell(dataset_name)}")
    sentence = " ".join(parts)
    epochs, steps = summary.get("epochs_completed"), summary.get("total_steps")
    if epochs or steps:
        sentence += f", trained for {_cell(epochs or '?')} epochs ({_cell(steps or '?')} steps)"
    sentence += "."
    verdict = _mapping(inspection).get("verdict")
    if diverged:
        sentence += f" {DIVERGED_SENTENCE}"
    elif verdict in VERDICTS:
        sentence += f" Inspection: {VERDICTS[verdict]}"
    return sentence


def _configuration(configuration: Mapping[str, Any], hyper: Mapping[str, Any], facts: Mapping[str, Any]) -> list[str]:
    rows: list[tuple[str, Any]] = [(key, value) for key, value in hyper.items()]
    if configuration.get("preset_id"):
        rows.insert(0, ("preset", configuration["preset_id"]))
    for key, value in _mapping(configuration.get("gpu_config")).items():
        rows.append((f"gpu {key}", value))
    for key in ("target_modules", "tensors", "parameters", "dtypes"):
        if facts.get(key) not in (None, []):
            rows.append((f"adapter {key}", facts[key]))
    if not rows:
        return []
    return ["## Hyperparameters and configuration", "", *_table(("Setting", "Value"), rows), ""]


def _results(quality: Mapping[str, Any], summary: Mapping[str, Any]) -> list[str]:
    labels = {
        "overall_score": "Score (1-5)",
        "convergence_quality": "Convergence",
        "final_training_loss": "Final training loss",
        "final_validation_loss": "Final validation loss",
        "perplexity": "Perplexity",
        "loss_improvement": "Loss improvement (%)",
        "training_duration_hours": "Duration (hours)",
        "total_cost": "Cost (USD)",
    }
    rows = [(label, source[key]) for source in (quality, summary) for key, label in labels.items() if key in source]
    if not rows:
        return []
    return ["## Training results", "", *_table(("Metric", "Value"), rows), ""]


def _health(health: Mapping[str, Any] | None) -> list[str]:
    lines = ["## Training health", ""]
    if not isinstance(health, Mapping):
        return [*lines, "No training health report is available for this run.", ""]
    if health.get("summary"):
        lines += [_line(health["summary"]), ""]
    checks = [c for c in health.get("checks") or [] if isinstance(c, Mapping)]
    if checks:
        lines += _table(
            ("Check", "Status", "Detail"), ((c.get("code"), c.get("status"), c.get("message")) for c in checks)
        )
        lines.append("")
    return lines


def _inspection(inspection: Mapping[str, Any] | None, *, diverged: bool = False) -> list[str]:
    """The inspection's verdict, findings and serving table; the commands only for a usable model
    (``diverged``: the files passed, but the run did not)."""
    lines = ["## Inspection", ""]
    if not isinstance(inspection, Mapping):
        return [*lines, "This adapter has not been inspected.", ""]
    sentence = VERDICTS.get(str(inspection.get("verdict")), "")
    if diverged:
        sentence = DIVERGED_SENTENCE
    lines += [f"Verdict: **{_cell(inspection.get('verdict'))}**. {sentence}", ""]
    findings = [f for f in inspection.get("findings") or [] if isinstance(f, Mapping)]
    lines += [f"- **{_cell(f.get('severity'))}** {_code(f.get('code'))}: {_cell(f.get('message'))}" for f in findings]
    if findings:
        lines.append("")
    serving = _mapping(inspection.get("serving"))
    rows = []
    for key, label in ENGINES:
        state = _mapping(serving.get(key))
        if state:
            ready = "ready" if state.get("ready") else "not ready"
            rows.append((label, ready, " ".join(str(r) for r in state.get("reasons") or []) or "-"))
    if rows:
        lines += ["### Serving", "", *_table(("Engine", "Status", "Notes"), rows), ""]
        for key, label in ENGINES:
            command = _mapping(serving.get(key)).get("command")
            if command and not diverged:
                lines += [f"{label}:", "", *_fence(str(command), "sh"), ""]
    return lines


def _files(files: Iterable[Mapping[str, Any]] | None) -> list[str]:
    rows = [(f.get("filename"), _size(f.get("size")), f.get("sha256")) for f in files or [] if isinstance(f, Mapping)]
    if not rows:
        return []
    return [
        "## Files",
        "",
        *_table(("File", "Size", "SHA-256"), rows),
        "",
        "Check a download with `sha256sum -c SHA256SUMS`.",
        "",
    ]


def _not_ready(inspection: Mapping[str, Any] | None, health: Mapping[str, Any] | None) -> list[str]:
    """In place of "How to load" for an unusable model: why it should not be loaded."""
    reasons = [
        f.get("message")
        for f in _mapping(inspection).get("findings") or []
        if isinstance(f, Mapping) and f.get("severity") == "error" and f.get("message")
    ]
    reasons += [
        c.get("message")
        for c in _mapping(health).get("checks") or []
        if isinstance(c, Mapping) and c.get("code") == "diverged" and c.get("status") == "fail" and c.get("message")
    ]
    lines = ["## Not ready to load", "", "This adapter is unusable as delivered, so no load command is given."]
    return [*lines, "", *[f"- {_cell(reason)}" for reason in reasons], ""]


def _how_to_load(base_model: Any, folder: str, task_type: Any) -> list[str]:
    auto = AUTO_CLASSES.get(str(task_type or "CAUSAL_LM").upper(), "AutoModelForCausalLM")
    code = "\n".join(
        [
            f"from transformers import {auto}",
            "from peft import PeftModel",
            "",
            f"base = {auto}.from_pretrained({json.dumps(base_model or 'BASE_MODEL')})",
            f"model = PeftModel.from_pretrained(base, {json.dumps(folder)})",
        ]
    )
    return ["## How to load", "", *_fence(code, "python"), ""]
