"""Can each engine serve the adapter, and the exact command to serve or convert the downloaded folder.

Rules, with their sources:
* vLLM: ``r``, ``lora_alpha`` and ``target_modules`` are required; ``modules_to_save`` must be None
  and DoRA is refused (vllm/lora/peft_helper.py @e745baf, ``_validate_features``). ``r`` must not
  exceed ``--max-lora-rank``, whose default is 16 and whose allowed values are 1, 8, 16, 32, 64,
  128, 256, 320 and 512 (vllm/config/lora.py @01230b4, ``MaxLoRARanks``); LoRA bias needs bias
  support switched on. Users hit "LoRA rank 64 is greater than max_lora_rank 16" (vllm#2847), so
  the flag is always part of the command.
* LoRAX: the PEFT folder layout, safetensors preferred, loaded per request with
  ``adapter_source: local`` (lorax docs/models/adapters/index.md); unsupported target modules are
  ignored with a warning and a differing base architecture raises
  (server/lorax_server/utils/adapter.py L115-166).
* llama.cpp: ``convert_lora_to_gguf.py`` (@0b03ada) needs only the base model's config
  (``--base`` folder or ``--base-model-id``) and exits on any tensor that is not lora_A/lora_B,
  such as full ``embed_tokens``/``lm_head`` weights, DoRA magnitudes or biases.
* PEFT: ``PeftModel.from_pretrained`` on a valid pair set; it loads with ``strict=False`` and only
  warns on missing keys (peft_model.py L624-640), hence the checks before "ready".
A pickle adapter is never called ready: it was not inspected and loading it runs code from the file.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from artifacts.inspection.checks import looks_local
from artifacts.inspection.peft import AdapterConfig, TensorLayout

VLLM_MAX_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
VLLM_DEFAULT_MAX_LORA_RANK = 16
AUTO_CLASSES = {
    "CAUSAL_LM": "AutoModelForCausalLM",
    "SEQ_2_SEQ_LM": "AutoModelForSeq2SeqLM",
    "SEQ_CLS": "AutoModelForSequenceClassification",
    "TOKEN_CLS": "AutoModelForTokenClassification",
    "QUESTION_ANS": "AutoModelForQuestionAnswering",
    "FEATURE_EXTRACTION": "AutoModel",
}


def vllm_max_lora_rank(rank: int) -> int | None:
    """The smallest ``--max-lora-rank`` vLLM accepts that fits ``rank`` (None: above 512)."""
    return next((allowed for allowed in VLLM_MAX_LORA_RANKS if allowed >= rank), None)


# Every place a command names the adapter or its folder, written once: the builders use these, and
# a rename (``renamed``) swaps exactly these pieces, so the commands follow the model's folder name.
def _peft_path(folder: str, adapter_name: str) -> str:
    return json.dumps(folder)


def _vllm_module(folder: str, adapter_name: str) -> str:
    return f"--lora-modules {shlex.quote(f'{adapter_name}={folder}')} "


def _lorax_mount(folder: str, adapter_name: str) -> str:
    return f"/data/adapters/{adapter_name}"


def _lorax_source(folder: str, adapter_name: str) -> str:
    mount = _lorax_mount(folder, adapter_name)
    if folder.startswith("/"):
        return shlex.quote(f"{folder}:{mount}")
    return '"$(pwd)"/' + shlex.quote(f"{folder.removeprefix('./')}:{mount}")


def _gguf_paths(folder: str, adapter_name: str) -> str:
    outfile = shlex.quote(f"{folder.rstrip('/') or '.'}/{adapter_name}-f16.gguf")
    return f"--outfile {outfile} {shlex.quote(folder)}"


# Longest first: a LoRAX source holds its mount.
_NAMED_PIECES = (_lorax_source, _gguf_paths, _vllm_module, _lorax_mount, _peft_path)


def renamed(serving: Any, old_name: str, new_name: str) -> Any:
    """``serving`` (DESIGN §10) with every command and note moved from the adapter ``old_name`` in
    ``./old_name`` to ``new_name`` in ``./new_name``."""
    if not isinstance(serving, dict) or old_name == new_name:
        return serving
    swaps = [(piece(f"./{old_name}", old_name), piece(f"./{new_name}", new_name)) for piece in _NAMED_PIECES]

    def swap(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        for old, new in swaps:
            text = text.replace(old, new)
        return text

    return {
        engine: {
            **state,
            "command": swap(state.get("command")),
            "reasons": [swap(r) for r in state.get("reasons") or []],
        }
        if isinstance(state, dict)
        else state
        for engine, state in serving.items()
    }


def _state(ready: bool, reasons: list[str], command: str | None) -> dict[str, object]:
    return {"ready": ready, "reasons": reasons, "command": command if ready else None}


def readiness(
    *,
    blockers: list[str],
    config: AdapterConfig | None,
    layout: TensorLayout | None,
    folder: str,
    adapter_name: str,
) -> dict[str, dict[str, object]]:
    """``blockers`` are sentences that stop every engine (errors, a pickle adapter)."""
    base = config.base_model if config is not None else None
    notes: list[str] = []
    if base is None:
        notes.append("adapter_config.json names no base model, so no command can be given.")
    elif looks_local(base):
        notes.append(f"The base model is a local path ({base}); substitute its hub id or your copy in the command.")
    return {
        "peft": _peft(blockers, config, base, notes, folder),
        "vllm": _vllm(blockers, config, layout, base, notes, folder, adapter_name),
        "lorax": _lorax(blockers, base, notes, folder, adapter_name),
        "llama_cpp": _llama_cpp(blockers, layout, base, notes, folder, adapter_name),
    }


def _peft(
    blockers: list[str], config: AdapterConfig | None, base: str | None, notes: list[str], folder: str
) -> dict[str, object]:
    if blockers:
        return _state(False, blockers, None)
    auto = AUTO_CLASSES.get(((config.task_type if config else None) or "CAUSAL_LM").upper(), "AutoModelForCausalLM")
    code = (
        f"from transformers import {auto}; from peft import PeftModel; "
        f"base = {auto}.from_pretrained({json.dumps(base)}); "
        f"model = PeftModel.from_pretrained(base, {_peft_path(folder, '')})"
    )
    return _state(True, list(notes), f"python -c {shlex.quote(code)}" if base else None)


def _vllm(
    blockers: list[str],
    config: AdapterConfig | None,
    layout: TensorLayout | None,
    base: str | None,
    notes: list[str],
    folder: str,
    adapter_name: str,
) -> dict[str, object]:
    reasons = list(blockers)
    dora = config is not None and config.use_dora or (layout is not None and layout.has_magnitude)
    if dora:
        reasons.append("vLLM does not support DoRA adapters (use_dora / lora_magnitude_vector).")
    if (config is not None and config.modules_to_save) or (layout is not None and layout.full_tensors):
        reasons.append("vLLM only loads adapters whose modules_to_save is empty (no full lm_head/embedding weights).")
    if (config is not None and config.bias != "none") or (layout is not None and layout.bias_tensors):
        reasons.append("The adapter trains biases; vLLM loads those only with LoRA bias support enabled.")
    rank = config.max_rank if config is not None else None
    flag = vllm_max_lora_rank(rank) if rank else None
    if rank and flag is None:
        reasons.append(f"r is {rank}, above vLLM's largest --max-lora-rank of 512.")
    if reasons:
        return _state(False, reasons, None)
    if rank and rank > VLLM_DEFAULT_MAX_LORA_RANK:
        notes = [*notes, f"r is {rank}, above vLLM's default of 16: the command passes --max-lora-rank {flag}."]
    command = None
    if base:
        command = (
            f"vllm serve {shlex.quote(base)} --enable-lora "
            f"{_vllm_module(folder, adapter_name)}--max-lora-rank {flag or 16}"
        )
    return _state(True, notes, command)


def _lorax(
    blockers: list[str], base: str | None, notes: list[str], folder: str, adapter_name: str
) -> dict[str, object]:
    if blockers:
        return _state(False, blockers, None)
    mount = _lorax_mount(folder, adapter_name)
    notes = [
        *notes,
        f'Then send requests with "adapter_id": "{mount}" and "adapter_source": "local"; LoRAX ignores target '
        "modules it does not support, with a warning.",
    ]
    source = _lorax_source(folder, adapter_name)
    command = None
    if base:
        command = (
            f"docker run --gpus all --shm-size 1g -p 8080:80 -v {source} "
            f"ghcr.io/predibase/lorax:main --model-id {shlex.quote(base)}"
        )
    return _state(True, notes, command)


def _llama_cpp(
    blockers: list[str],
    layout: TensorLayout | None,
    base: str | None,
    notes: list[str],
    folder: str,
    adapter_name: str,
) -> dict[str, object]:
    reasons = list(blockers)
    if layout is not None:
        refused = [t.name for t in layout.full_tensors if "norm" not in t.name]
        refused += [m.magnitude.name for m in layout.modules.values() if m.magnitude is not None]
        refused += [t.name for t in layout.bias_tensors]
        if refused:
            reasons.append(
                f"convert_lora_to_gguf.py stops at tensors that are not lora_A/lora_B, such as {refused[0]} "
                "(embedding/lm_head weights, DoRA magnitudes, biases)."
            )
    if reasons:
        return _state(False, reasons, None)
    command = None
    if base:
        base_flag = f"--base {shlex.quote(base)}" if looks_local(base) else f"--base-model-id {shlex.quote(base)}"
        command = f"python convert_lora_to_gguf.py {base_flag} --outtype f16 {_gguf_paths(folder, adapter_name)}"
    return _state(True, list(notes), command)


# --- By repository id, through the product's Hub endpoint (DESIGN §15) -----------------------------
# The same engines as above, fetching the adapter by ``ns/repo`` instead of from a downloaded folder:
# ``HF_ENDPOINT={site}/hub`` and ``HF_TOKEN={API token}`` make each of them pull from the product.
# Whether an engine can load the adapter at all is still :func:`readiness`' answer for the revision.
TOKEN_PLACEHOLDER = "<your API token>"  # noqa: S105 (what the user replaces, never a token)
BASE_PLACEHOLDER = "BASE_MODEL_ID"


def hub_endpoint(site: str) -> str:
    """``HF_ENDPOINT`` for the product at ``site`` (its address, no trailing slash)."""
    return f"{site.rstrip('/')}/hub"


def hub_commands(
    *,
    site: str,
    repo_id: str,
    revision: str,
    base: str | None,
    task_type: str | None = None,
    rank: int | None = None,
) -> dict[str, str]:
    """Copy-paste text for loading ``repo_id`` at ``revision`` (an alias or a commit) by name:
    ``env``, ``snapshot``, ``peft``, ``vllm``, ``lorax`` and ``lorax_request``. ``base`` is a valid
    hub id or None (a placeholder is shown); the token is never filled in."""
    endpoint = hub_endpoint(site)
    model_id = base or BASE_PLACEHOLDER
    auto = AUTO_CLASSES.get((task_type or "CAUSAL_LM").upper(), "AutoModelForCausalLM")
    name = repo_id.rsplit("/", 1)[-1]
    flag = (vllm_max_lora_rank(rank) if rank else None) or VLLM_DEFAULT_MAX_LORA_RANK
    env = f"export HF_ENDPOINT={shlex.quote(endpoint)} HF_TOKEN={TOKEN_PLACEHOLDER}"
    docker_env = f"-e HF_ENDPOINT={shlex.quote(endpoint)} -e HF_TOKEN"
    request = {"inputs": "Hello", "parameters": {"adapter_id": repo_id, "adapter_source": "hub", "max_new_tokens": 64}}
    return {
        "env": env,
        "snapshot": (
            "from huggingface_hub import snapshot_download\n\n"
            f"path = snapshot_download({json.dumps(repo_id)}, revision={json.dumps(revision)})"
        ),
        "peft": (
            f"from transformers import {auto}\n"
            "from peft import PeftModel\n\n"
            f"base = {auto}.from_pretrained({json.dumps(model_id)})"
            f"{'' if base else '  # the base model you fine-tuned'}\n"
            f"model = PeftModel.from_pretrained(base, {json.dumps(repo_id)}, revision={json.dumps(revision)})"
        ),
        "vllm": (
            f"vllm serve {shlex.quote(model_id)} --enable-lora "
            f"--lora-modules {shlex.quote(f'{name}={repo_id}')} --max-lora-rank {flag}"
        ),
        "lorax": (
            f"docker run --gpus all --shm-size 1g -p 8080:80 {docker_env} "
            f"ghcr.io/predibase/lorax:main --model-id {shlex.quote(model_id)}"
        ),
        "lorax_request": (
            "curl http://127.0.0.1:8080/generate -H 'Content-Type: application/json' "
            f"-d {shlex.quote(json.dumps(request))}"
        ),
    }
