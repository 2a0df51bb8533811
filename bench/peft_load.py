"""Do the simulator's adapters load in real PEFT? Generate them, then load each into its base model.

    python -m bench.peft_load --python /work/peftvenv/bin/python
    python -m bench.peft_load --python /work/peftvenv/bin/python --small   # one layer per demo job

Run it with the project's interpreter, which generates the files (``pipeline.simulator.files``).
The loading runs in a second interpreter, ``--python``, that has torch, transformers and peft;
they are never the project's dependencies, and neither the product nor the tests import this
file. That interpreter can be made with:

    python3 -m venv /work/peftvenv
    /work/peftvenv/bin/pip install torch==2.13.0          # the CPU build (no CUDA download)
    /work/peftvenv/bin/pip install peft transformers accelerate

For every demo job (each base model, each adapter fault) and a few extra specs (all seven linear
modules on each base, a byte budget below and one above the full adapter), the worker:

1. builds the base model from its config (``BASE_MODELS``) on the meta device, so no weights are
   downloaded or allocated;
2. asks PEFT which tensors it would save for the adapter's own adapter_config.json
   (``get_peft_model`` + ``get_peft_model_state_dict``) and compares names and shapes with the
   file's safetensors header;
3. loads the folder with ``PeftModel.from_pretrained(model, folder, low_cpu_mem_usage=True)``
   (the product's load command, minus the base weights), recording errors and the warnings PEFT
   gives (missing adapter keys);
4. loads the file again with ``set_peft_model_state_dict`` into the LoRA (and modules_to_save)
   modules materialised on the CPU, listing missing and unexpected keys and checking that every
   tensor's values arrived unchanged.

Each case prints its outcome next to what the product claims about it; the exit code is 1 when any
outcome differs from the expectation. The generated files go to a temporary folder (``--keep DIR``
keeps them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

# What PEFT must do with each case. "clean": loads, file tensors == PEFT's own, no missing or
# unexpected keys. The value faults (untrained, nan-weights) load cleanly: PEFT cannot tell, which
# is why the product inspects them.
EXPECTED_BY_FAULT = {
    "": "clean",
    "untrained": "clean",
    "nan-weights": "clean",
    "dora": "clean",
    "lm-head": "clean",
    "rank-mismatch": "size mismatch",
    "short-header": "load error",
    "pickle-only": "load error",
    "no-weights": "load error",
}


def build_cases(folder: Path, small: bool) -> list[dict[str, Any]]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipeline.settings")
    import django

    django.setup()
    from pipeline.demo_data import simulator_specs
    from pipeline.simulator.base_models import BASE_MODELS
    from pipeline.simulator.files import AdapterSpec, generate, spec_for_job

    overrides: dict[str, Any] = {"adapter_bytes": 1} if small else {}
    specs = {job_id: spec_for_job(job_id, spec) for job_id, spec in simulator_specs(**overrides).items()}
    for base in BASE_MODELS:
        name = base.split("/")[-1].lower()
        specs[f"check-{name}-all-linear"] = AdapterSpec(
            base_model=base, rank=8, target_modules=ALL_LINEAR, dtype="BF16", adapter_bytes=1 if small else None
        )
    budget = AdapterSpec(rank=16, adapter_bytes=4 * MIB)  # 3 of Mistral's 32 layers: layers_to_transform
    specs["check-mistral-4mib-budget"] = budget
    beyond = AdapterSpec(base_model="Qwen/Qwen2.5-7B", rank=1, adapter_bytes=4 * MIB)  # past layer 27
    specs["check-qwen-4mib-beyond-model"] = beyond

    cases = []
    for job_id, spec in specs.items():
        manifest = generate(folder, job_id, spec)
        adapter_folder = next(iter(manifest.files.values())).path.parent
        expected = "unexpected keys" if spec.beyond_model else EXPECTED_BY_FAULT[spec.fault]
        cases.append(
            {
                "job": job_id,
                "folder": str(adapter_folder),
                "base_model": spec.base_model,
                "model_type": spec.architecture.model_type,
                "config": spec.architecture.transformers_config(),
                "rank": spec.rank,
                "targets": len(spec.target_modules),
                "layers": spec.num_layers,
                "dtype": spec.dtype,
                "fault": spec.fault,
                "expected": expected,
            }
        )
    return cases


# --- the worker: runs in the interpreter that has torch + peft ------------------------------------


def _header(path: Path) -> dict[str, tuple[int, ...]]:
    with path.open("rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(length))
    return {name: tuple(entry["shape"]) for name, entry in header.items() if name != "__metadata__"}


def _meta_model(case: dict[str, Any]) -> Any:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(case["model_type"], **case["config"])
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def _short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    return text[:300]


def check_case(case: dict[str, Any]) -> dict[str, Any]:
    import warnings

    import torch
    from peft import LoraConfig, PeftModel, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors.torch import load_file

    folder = Path(case["folder"])
    result: dict[str, Any] = {"job": case["job"]}
    weights = folder / "adapter_model.safetensors"
    # 1. The tensors PEFT itself saves for this adapter_config.json on this base model.
    config = LoraConfig.from_pretrained(str(folder))
    reference = get_peft_model(_meta_model(case), config, low_cpu_mem_usage=True)
    expected = {name: tuple(tensor.shape) for name, tensor in get_peft_model_state_dict(reference).items()}
    result["peft_tensors"] = len(expected)
    try:
        actual = _header(weights)
    except Exception as error:  # a missing or truncated file
        result["header"] = _short(error)
    else:
        result["file_tensors"] = len(actual)
        result["not_in_file"] = sorted(set(expected) - set(actual))[:3]
        result["not_in_peft"] = sorted(set(actual) - set(expected))[:3]
        result["shape_diffs"] = [
            f"{name}: file {actual[name]} vs peft {expected[name]}"
            for name in sorted(set(actual) & set(expected))
            if actual[name] != expected[name]
        ][:3]
        result["same_as_peft"] = actual == expected

    # 2. What the product's load command does (on a meta base model: no base weights needed).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            PeftModel.from_pretrained(_meta_model(case), str(folder), low_cpu_mem_usage=True)
        except Exception as error:
            result["from_pretrained"] = _short(error)
            return result
    result["from_pretrained"] = "loaded"
    result["warnings"] = [str(w.message)[:200] for w in caught if "missing adapter keys" in str(w.message)]

    # 3. The values: from_pretrained moves a low_cpu_mem_usage adapter to its base layer's device,
    # which is meta here, so load again into LoRA modules materialised on the CPU and compare.
    for name, module in reference.named_modules():
        if name.rsplit(".", 1)[-1] in ("lora_A", "lora_B", "lora_magnitude_vector", "modules_to_save"):
            module.to_empty(device="cpu")
    state = load_file(str(weights))
    loaded = set_peft_model_state_dict(reference, state)
    adapter_keys = [k for k in loaded.missing_keys if ".lora_" in k or ".modules_to_save." in k]
    result["missing_keys"] = len(adapter_keys)
    result["unexpected_keys"] = len(loaded.unexpected_keys)
    result["unexpected_examples"] = list(loaded.unexpected_keys)[:2]
    parameters = dict(reference.named_parameters())
    matched = 0
    for key, tensor in state.items():
        target = _loaded_name(key, parameters)
        if target is not None and torch.equal(
            torch.nan_to_num(parameters[target].detach().float(), nan=7.0),
            torch.nan_to_num(tensor.float(), nan=7.0),
        ):
            matched += 1
    result["values_loaded"] = f"{matched}/{len(state)}"
    result["values_ok"] = matched == len(state)
    return result


def _loaded_name(key: str, parameters: dict[str, Any]) -> str | None:
    """Where PEFT put a saved tensor: the adapter name goes back in (``lora_A.weight`` -> ``lora_A.default.weight``)."""
    for saved, live in (
        (".lora_A.weight", ".lora_A.default.weight"),
        (".lora_B.weight", ".lora_B.default.weight"),
        (".lora_magnitude_vector", ".lora_magnitude_vector.default.weight"),
        ("lm_head.weight", "lm_head.modules_to_save.default.weight"),
    ):
        if key.endswith(saved):
            name = key[: -len(saved)] + live
            return name if name in parameters else None
    return None


def outcome(result: dict[str, Any]) -> str:
    loaded = result.get("from_pretrained")
    if loaded != "loaded":
        return "size mismatch" if loaded and "size mismatch" in loaded else "load error"
    if result.get("unexpected_keys") or result.get("not_in_peft"):
        return "unexpected keys"
    if result.get("warnings") or result.get("missing_keys") or result.get("not_in_file"):
        return "missing keys"
    if not result.get("same_as_peft") or not result.get("values_ok"):
        return "differs from peft"
    return "clean"


def worker(cases_path: Path) -> None:
    import peft
    import torch
    import transformers

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}", flush=True)
    for case in json.loads(cases_path.read_text()):
        try:
            result = check_case(case)
        except Exception as error:
            result = {"job": case["job"], "from_pretrained": f"worker failed: {_short(error)}"}
        print("RESULT " + json.dumps(result), flush=True)


# --- the driver: runs in the project's interpreter ------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", required=True, help="An interpreter with torch, transformers and peft.")
    parser.add_argument("--small", action="store_true", help="One layer per demo adapter (layers_to_transform).")
    parser.add_argument("--keep", default=None, help="Generate into this folder and keep it.")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(Path(options.worker))
        return 0

    with tempfile.TemporaryDirectory(prefix="peft-load-") as scratch:
        folder = Path(options.keep) if options.keep else Path(scratch)
        cases = build_cases(folder / "adapters", options.small)
        cases_path = Path(scratch) / "cases.json"
        cases_path.write_text(json.dumps(cases))
        print(f"generated {len(cases)} adapters under {folder / 'adapters'}; loading them with {options.python}")
        run = subprocess.run(
            [options.python, str(Path(__file__).resolve()), "--python", options.python, "--worker", str(cases_path)],
            capture_output=True,
            text=True,
            check=False,
        )
    results = {}
    for line in run.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
            results[result["job"]] = result
        else:
            print(line)
    if run.returncode:
        print(run.stderr[-3000:], file=sys.stderr)
        return 1

    failures = 0
    print(f"\n{'job':34} {'base model':26} {'r':>3} {'mod':>3} {'layers':>6} {'dtype':5} {'expected':16} outcome")
    for case in cases:
        result = results.get(case["job"], {"from_pretrained": "no result"})
        got = outcome(result)
        mark = "ok " if got == case["expected"] else "BAD"
        failures += got != case["expected"]
        print(
            f"{case['job']:34} {case['base_model']:26} {case['rank']:>3} {case['targets']:>3} {case['layers']:>6} "
            f"{case['dtype']:5} {case['expected']:16} {mark} {got}"
        )
        details = {k: v for k, v in result.items() if k != "job" and v not in ([], None, 0)}
        print(f"    {json.dumps(details)}")
    print(f"\n{len(cases) - failures}/{len(cases)} cases behave as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
