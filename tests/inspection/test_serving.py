"""Serving readiness follows each engine's documented rules and gives the exact command."""

from __future__ import annotations

import numpy as np
import pytest

from artifacts.inspection.serving import vllm_max_lora_rank
from tests.adapter_files import adapter, config, inspect, lora_tensors

BASE = "mistralai/Mistral-7B-v0.1"


def serving(cfg=None, tensors=None, **options):
    return inspect(adapter(cfg=cfg, tensors=tensors), None, **options)["serving"]


@pytest.mark.parametrize(
    ("rank", "flag"), [(1, 1), (4, 8), (8, 8), (16, 16), (20, 32), (64, 64), (300, 320), (512, 512)]
)
def test_vllm_rank_flag_is_the_smallest_allowed_value(rank, flag):
    assert vllm_max_lora_rank(rank) == flag


def test_commands_for_a_ready_adapter_name_the_downloaded_folder():
    states = serving(adapter_name="support-bot", folder="./support-bot")
    assert states["vllm"]["command"] == (
        f"vllm serve {BASE} --enable-lora --lora-modules support-bot=./support-bot --max-lora-rank 8"
    )
    assert states["llama_cpp"]["command"] == (
        f"python convert_lora_to_gguf.py --base-model-id {BASE} --outtype f16 "
        "--outfile ./support-bot/support-bot-f16.gguf ./support-bot"
    )
    assert states["peft"]["command"] == (
        "python -c 'from transformers import AutoModelForCausalLM; from peft import PeftModel; "
        f'base = AutoModelForCausalLM.from_pretrained("{BASE}"); '
        'model = PeftModel.from_pretrained(base, "./support-bot")\''
    )
    assert states["lorax"]["command"] == (
        'docker run --gpus all --shm-size 1g -p 8080:80 -v "$(pwd)"/support-bot:/data/adapters/support-bot '
        f"ghcr.io/predibase/lorax:main --model-id {BASE}"
    )
    assert "adapter_source" in states["lorax"]["reasons"][0]


def test_vllm_gets_the_rank_flag_above_its_default_and_refuses_ranks_above_512():
    big = serving(cfg=config(r=48, lora_alpha=96), tensors=lora_tensors(rank=48))
    assert big["vllm"]["ready"] and big["vllm"]["command"].endswith("--max-lora-rank 64")
    assert "default of 16" in big["vllm"]["reasons"][0]
    huge = serving(cfg=config(r=600), tensors=lora_tensors(rank=600, hidden=8, layers=1))
    assert not huge["vllm"]["ready"] and huge["vllm"]["command"] is None
    assert huge["peft"]["ready"]


def test_rank_pattern_raises_the_vllm_flag_to_the_largest_rank():
    states = serving(cfg=config(rank_pattern={"q_proj": 32}), tensors=None)
    # the q_proj tensors are rank 8, so the adapter is unusable - but the flag logic reads the config
    assert not states["vllm"]["ready"]
    tensors = lora_tensors()
    for layer in range(2):
        name = f"base_model.model.model.layers.{layer}.self_attn.q_proj"
        tensors[f"{name}.lora_A.weight"] = np.ones((32, 32), dtype=np.float32)
        tensors[f"{name}.lora_B.weight"] = np.ones((32, 32), dtype=np.float32)
    ok = serving(cfg=config(rank_pattern={"q_proj": 32}), tensors=tensors)
    assert ok["vllm"]["ready"] and ok["vllm"]["command"].endswith("--max-lora-rank 32")


def test_dora_blocks_vllm_and_llama_cpp_but_not_peft():
    tensors = lora_tensors()
    tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector"] = np.ones(32, dtype=np.float32)
    states = serving(cfg=config(use_dora=True), tensors=tensors)
    assert not states["vllm"]["ready"] and "DoRA" in states["vllm"]["reasons"][0]
    assert not states["llama_cpp"]["ready"]
    assert states["peft"]["ready"] and states["lorax"]["ready"]


def test_full_lm_head_blocks_vllm_and_llama_cpp():
    tensors = lora_tensors()
    tensors["base_model.model.lm_head.weight"] = np.ones((64, 32), dtype=np.float32)
    states = serving(cfg=config(modules_to_save=["lm_head"]), tensors=tensors)
    assert not states["vllm"]["ready"] and "modules_to_save" in states["vllm"]["reasons"][0]
    assert not states["llama_cpp"]["ready"] and "lm_head" in states["llama_cpp"]["reasons"][0]
    assert states["peft"]["ready"]


def test_lora_bias_blocks_vllm_only():
    states = serving(cfg=config(bias="all"))
    assert not states["vllm"]["ready"] and "bias" in states["vllm"]["reasons"][0]
    assert states["peft"]["ready"] and states["llama_cpp"]["ready"]


def test_no_base_model_means_no_command_but_an_explanation():
    cfg = config()
    del cfg["base_model_name_or_path"]
    states = serving(cfg=cfg)
    for state in states.values():
        assert state["command"] is None
        assert any("no base model" in reason for reason in state["reasons"])


def test_hostile_names_are_quoted_for_the_shell():
    states = serving(cfg=config(base_model_name_or_path="org/model; rm -rf ~"), adapter_name="x")
    assert "'org/model; rm -rf ~'" in states["vllm"]["command"]


def test_seq2seq_adapters_load_with_the_matching_auto_class():
    states = serving(cfg=config(task_type="SEQ_2_SEQ_LM"))
    assert "AutoModelForSeq2SeqLM.from_pretrained" in states["peft"]["command"]
