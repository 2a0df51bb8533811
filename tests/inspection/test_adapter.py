"""Whole-adapter inspection: each finding code from real files, the verdict rule and the facts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from artifacts.inspection import AdapterInspector, inspect_files
from artifacts.inspection.findings import SEVERITY
from tests.adapter_files import adapter, codes, config, inspect, lora_tensors, write_folder

JOB = {"learning_rate": 2e-4, "rank": 8, "lora_alpha": 16, "base_model": "mistralai/Mistral-7B-v0.1"}


def test_a_valid_peft_adapter_is_ok_with_its_facts():
    report = inspect(adapter(), JOB)
    assert report["verdict"] == "ok" and report["findings"] == []
    facts = report["adapter"]
    assert facts["format"] == "safetensors"
    assert facts["peft_type"] == "LORA" and facts["task_type"] == "CAUSAL_LM"
    assert facts["base_model"] == "mistralai/Mistral-7B-v0.1"
    assert facts["r"] == 8 and facts["lora_alpha"] == 16
    assert facts["target_modules"] == ["q_proj", "v_proj"]
    # 2 layers x 2 modules x (A 8x32 + B 32x8)
    assert facts["tensors"] == 8 and facts["parameters"] == 2 * 2 * (8 * 32 + 32 * 8)
    assert facts["dtypes"] == ["F32"]
    assert facts["size"] == len(adapter()["adapter_model.safetensors"])
    assert all(state["ready"] for state in report["serving"].values())


def test_files_may_arrive_interleaved_and_in_any_order():
    files = adapter()
    inspector = AdapterInspector()
    names = sorted(files, reverse=True)
    for name in names:
        inspector.start_file(name, len(files[name]))
    for start in range(0, max(len(d) for d in files.values()), 100):
        for name in names:
            if files[name][start : start + 100]:
                inspector.feed(name, files[name][start : start + 100])
    for name in names:
        inspector.end_file(name, len(files[name]))
    assert inspector.report(JOB)["verdict"] == "ok"


def test_bf16_and_f16_adapters_are_counted_too():
    tensors = lora_tensors(dtype=np.float16)
    report = inspect(adapter(tensors=tensors), JOB)
    assert report["verdict"] == "ok" and report["adapter"]["dtypes"] == ["F16"]


def finding(report, code):
    return next(f for f in report["findings"] if f["code"] == code)


def tensors_with(**edits):
    tensors = lora_tensors()
    for name, value in edits.items():
        tensors[name] = value
    return tensors


Q0 = "base_model.model.model.layers.0.self_attn.q_proj"

CASES = {
    "no_adapter_weights": lambda: {"adapter_config.json": json.dumps(config()).encode()},
    "config_invalid": lambda: {"adapter_model.safetensors": adapter()["adapter_model.safetensors"]},
    "safetensors_invalid": lambda: {
        **adapter(),
        "adapter_model.safetensors": adapter()["adapter_model.safetensors"][:-5],
    },
    "nonfinite_values": lambda: adapter(
        tensors=tensors_with(**{f"{Q0}.lora_B.weight": np.full((32, 8), np.nan, dtype=np.float32)})
    ),
    "untrained_lora_b": lambda: adapter(
        tensors={k: (np.zeros_like(v) if "lora_B" in k else v) for k, v in lora_tensors().items()}
    ),
    "missing_lora_pair": lambda: adapter(
        tensors={k: v for k, v in lora_tensors().items() if k != f"{Q0}.lora_B.weight"}
    ),
    "rank_mismatch": lambda: adapter(cfg=config(r=4)),
    "module_not_targeted": lambda: adapter(cfg=config(target_modules=["q_proj"])),
    "modules_to_save": lambda: adapter(
        cfg=config(modules_to_save=["lm_head"]),
        tensors=tensors_with(**{"base_model.model.lm_head.weight": np.ones((64, 32), dtype=np.float32)}),
    ),
    "dora": lambda: adapter(
        cfg=config(use_dora=True),
        tensors=tensors_with(**{f"{Q0}.lora_magnitude_vector": np.ones(32, dtype=np.float32)}),
    ),
    "pickle_format": lambda: {
        "adapter_config.json": json.dumps(config()).encode(),
        "adapter_model.bin": b"\x80\x04junk",
    },
    "job_config_mismatch": lambda: adapter(cfg=config(r=8, lora_alpha=32)),
    "base_model_local_path": lambda: adapter(cfg=config(base_model_name_or_path="/home/train/models/mistral-7b")),
    "no_lora_tensors": lambda: adapter(tensors={}),
}


@pytest.mark.parametrize("code", sorted(CASES))
@pytest.mark.parametrize("chunk", [7, 4096])
def test_each_problem_yields_its_code_severity_and_verdict(code, chunk):
    report = inspect(CASES[code](), JOB, chunk=chunk)
    assert code in codes(report), report["findings"]
    item = finding(report, code)
    assert item["severity"] == SEVERITY[code]
    assert item["message"].endswith(".") and len(item["message"]) > 20
    expected_verdict = "unusable" if any(f["severity"] == "error" for f in report["findings"]) else "warnings"
    assert report["verdict"] == expected_verdict
    if SEVERITY[code] == "error":
        assert report["verdict"] == "unusable"
        assert not any(state["ready"] for state in report["serving"].values())


def test_contract_severities_are_fixed():
    errors = {"no_adapter_weights", "config_invalid", "safetensors_invalid", "nonfinite_values", "untrained_lora_b"}
    errors |= {"missing_lora_pair", "rank_mismatch"}
    warnings = {"module_not_targeted", "modules_to_save", "dora", "pickle_format", "job_config_mismatch"}
    assert {c for c in errors | warnings if SEVERITY[c] == "error"} == errors
    assert {c for c in errors | warnings if SEVERITY[c] == "warning"} == warnings


def test_pickle_adapter_is_never_opened_and_no_engine_is_called_ready():
    report = inspect(CASES["pickle_format"](), JOB)
    assert report["verdict"] == "warnings"
    assert report["adapter"]["format"] == "pickle" and report["adapter"]["tensors"] == 0
    assert not any(state["ready"] for state in report["serving"].values())


def test_rank_pattern_entries_override_r():
    tensors = lora_tensors()
    tensors[f"{Q0}.lora_A.weight"] = np.ones((16, 32), dtype=np.float32)
    tensors[f"{Q0}.lora_B.weight"] = np.ones((32, 16), dtype=np.float32)
    rank_pattern = {"model.layers.0.self_attn.q_proj": 16}
    assert inspect(adapter(cfg=config(rank_pattern=rank_pattern), tensors=tensors), JOB)["verdict"] == "ok"
    assert "rank_mismatch" in codes(inspect(adapter(tensors=tensors), JOB))


def test_regex_target_modules_follow_peft_full_match():
    regex = r".*\.(q_proj|v_proj)"
    report = inspect(adapter(cfg=config(target_modules=regex)), JOB)
    assert report["verdict"] == "ok" and report["adapter"]["target_modules"] == [regex]
    narrow = inspect(adapter(cfg=config(target_modules=r".*\.q_proj")), JOB)
    assert "module_not_targeted" in codes(narrow)
    dangerous = inspect(adapter(cfg=config(target_modules="(a+)+$")), JOB)
    assert "target_modules_unchecked" in codes(dangerous)


def test_embedding_lora_pairs_are_understood():
    tensors = lora_tensors()
    tensors["base_model.model.model.embed_tokens.lora_embedding_A"] = np.ones((8, 100), dtype=np.float32)
    tensors["base_model.model.model.embed_tokens.lora_embedding_B"] = np.ones((32, 8), dtype=np.float32)
    report = inspect(adapter(cfg=config(target_modules=["q_proj", "v_proj", "embed_tokens"]), tensors=tensors), JOB)
    assert report["verdict"] == "ok", report["findings"]


def test_some_zero_lora_b_is_only_information():
    tensors = lora_tensors()
    tensors[f"{Q0}.lora_B.weight"] = np.zeros((32, 8), dtype=np.float32)
    report = inspect(adapter(tensors=tensors), JOB)
    assert report["verdict"] == "ok" and "partly_zero_lora_b" in codes(report)


def test_job_mismatch_names_what_differs_and_unknown_hyperparameters_are_ignored():
    report = inspect(adapter(), {"rank": 16, "lora_alpha": 16, "base_model": "meta-llama/Llama-3.1-8B"})
    message = finding(report, "job_config_mismatch")["message"]
    assert "rank 8 (job: 16)" in message and "meta-llama/Llama-3.1-8B" in message and "lora_alpha" not in message
    assert inspect(adapter(), {"learning_rate": 1e-4})["verdict"] == "ok"
    assert inspect(adapter(), None)["verdict"] == "ok"


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1, 2]", b'{"r": "8", "lora_alpha": 16, "target_modules": ["q_proj"]}', b"\xff\xfe"],
)
def test_broken_configs_are_config_invalid(raw):
    files = {**adapter(), "adapter_config.json": raw}
    report = inspect(files, JOB)
    assert "config_invalid" in codes(report) and report["verdict"] == "unusable"


def test_oversized_config_is_refused_without_buffering_it():
    inspector = AdapterInspector()
    inspector.start_file("adapter_config.json", None)
    for _ in range(3):
        inspector.feed("adapter_config.json", b" " * 600_000)
    inspector.end_file("adapter_config.json", 1_800_000)
    assert len(inspector._config_bytes) == 0
    assert "config_invalid" in codes(inspector.report(JOB))


def test_other_pickle_files_are_mentioned_but_do_not_change_the_verdict():
    report = inspect({**adapter(), "training_args.bin": b"\x80\x04"}, JOB)
    assert report["verdict"] == "ok" and "pickle_files" in codes(report)


def test_stored_files_are_reinspected_from_file_objects(tmp_path):
    folder = write_folder(tmp_path / "stored", adapter())
    handles = [(path.name, path.open("rb")) for path in sorted(folder.iterdir())]
    try:
        report = inspect_files(handles, JOB, chunk_size=333)
    finally:
        for _, handle in handles:
            handle.close()
    assert report["verdict"] == "ok" and report["adapter"]["parameters"] == 2048


def test_inspecting_from_a_django_storage(tmp_path):
    from django.core.files.storage import FileSystemStorage

    from artifacts.inspection import inspect_storage

    storage = FileSystemStorage(location=str(tmp_path))
    keys = {}
    for name, data in adapter().items():
        keys[name] = f"user/artifact/{name}"
        write_folder(tmp_path / "user" / "artifact", {name: data})
    report = inspect_storage(storage, keys, JOB, adapter_name="support bot v1")
    assert report["verdict"] == "ok"
    assert "--lora-modules support-bot-v1=./support-bot-v1" in report["serving"]["vllm"]["command"]


def test_a_local_copy_of_the_jobs_base_model_is_one_warning_not_two():
    local = inspect(adapter(cfg=config(base_model_name_or_path="/data/models/Mistral-7B-v0.1")), JOB)
    assert codes(local) == {"base_model_local_path"}
    other = inspect(adapter(cfg=config(base_model_name_or_path="/data/models/llama-3-8b")), JOB)
    assert codes(other) == {"base_model_local_path", "job_config_mismatch"}
    assert "local path" in " ".join(other["serving"]["vllm"]["reasons"])
    assert "--base /data/models/llama-3-8b" in other["serving"]["llama_cpp"]["command"]


def test_messages_are_grammatical_for_one_module():
    tensors = {k: v for k, v in lora_tensors(layers=1, modules=("q_proj",)).items() if "lora_B" not in k}
    message = finding(inspect(adapter(tensors=tensors), JOB), "missing_lora_pair")["message"]
    assert message.startswith("1 module has a lora_A")


def test_starting_a_file_again_discards_the_failed_transfer():
    files = adapter()
    weights = files["adapter_model.safetensors"]
    inspector = AdapterInspector()
    inspector.start_file("adapter_model.safetensors", len(weights))
    inspector.feed("adapter_model.safetensors", weights[:1000])  # connection cut here, retried from zero
    for name, data in files.items():
        inspector.start_file(name, len(data))
        inspector.feed(name, data)
        inspector.end_file(name, len(data))
    report = inspector.report(JOB)
    assert report["verdict"] == "ok" and report["adapter"]["size"] == len(weights)


@pytest.mark.parametrize(
    "odd",
    [
        {"r": [], "lora_alpha": {}, "target_modules": {"q_proj": 1}},
        {"r": 8, "lora_alpha": 16, "target_modules": "((((", "rank_pattern": "q_proj"},
        {"r": 8, "lora_alpha": 16, "target_modules": [1, None], "modules_to_save": "lm_head", "use_dora": "yes"},
        {"r": True, "lora_alpha": float("nan"), "target_modules": ["q_proj"], "alpha_pattern": [1]},
        {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"], "rank_pattern": {"(a+)+$": 4, "[": 2}},
        {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"], "base_model_name_or_path": 42},
    ],
)
def test_odd_config_values_never_crash_the_report(odd):
    report = inspect(adapter(cfg={**config(), **odd}), JOB)
    assert report["verdict"] in {"ok", "warnings", "unusable"}
    json.dumps(report, allow_nan=False)


def test_safetensors_wins_over_a_pickle_beside_it_which_is_still_mentioned():
    report = inspect({**adapter(), "adapter_model.bin": b"\x80\x02}."}, JOB)
    assert report["verdict"] == "ok" and report["adapter"]["format"] == "safetensors"
    assert "adapter_model.bin" in finding(report, "pickle_files")["message"]
