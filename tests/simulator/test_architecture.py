"""The simulator's adapters have the tensors PEFT saves for each named base model: GQA k/v
projections, MLP projections through intermediate_size, one pair per module in every real layer,
the true vocabulary for a saved lm_head; and each demo job's files follow its hyperparameters."""

from __future__ import annotations

import json
import re
import struct

import pytest

from artifacts.inspection import inspect_files
from pipeline.demo_data import JOBS, simulator_specs
from pipeline.simulator.files import AdapterSpec, generate, safetensors_header, spec_for_job

ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
MIB = 1024 * 1024

# (in_features, out_features) per module, written out from each model's config.json on the hub
# (hidden, intermediate, heads x head_dim, KV heads x head_dim), not computed by the code under test.
# Mistral-7B-v0.1 and Llama-3.1-8B have the same layer dimensions (hidden 4096, intermediate 14336,
# 32 heads and 8 KV heads of 128); they differ in vocabulary.
HIDDEN_4096 = {
    "q_proj": (4096, 4096),
    "k_proj": (4096, 1024),
    "v_proj": (4096, 1024),
    "o_proj": (4096, 4096),
    "gate_proj": (4096, 14336),
    "up_proj": (4096, 14336),
    "down_proj": (14336, 4096),
}
SHAPES = {
    "mistralai/Mistral-7B-v0.1": HIDDEN_4096,
    "meta-llama/Llama-3.1-8B": HIDDEN_4096,
    "Qwen/Qwen2.5-7B": {
        "q_proj": (3584, 3584),
        "k_proj": (3584, 512),
        "v_proj": (3584, 512),
        "o_proj": (3584, 3584),
        "gate_proj": (3584, 18944),
        "up_proj": (3584, 18944),
        "down_proj": (18944, 3584),
    },
}
LAYERS = {"mistralai/Mistral-7B-v0.1": 32, "meta-llama/Llama-3.1-8B": 32, "Qwen/Qwen2.5-7B": 28}
VOCAB = {"mistralai/Mistral-7B-v0.1": (32000, 4096), "meta-llama/Llama-3.1-8B": (128256, 4096)}
KEY = re.compile(
    r"base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.(lora_A\.weight|lora_B\.weight|lora_magnitude_vector)$"
)


def header_shapes(spec: AdapterSpec) -> dict[str, tuple[int, ...]]:
    raw = safetensors_header(spec)
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    return {name: tuple(entry["shape"]) for name, entry in header.items() if name != "__metadata__"}


@pytest.mark.parametrize("base", sorted(SHAPES))
def test_every_module_of_every_real_layer_has_the_base_models_shapes(base):
    shapes = header_shapes(AdapterSpec(base_model=base, rank=8, target_modules=ALL_LINEAR))
    layers = set()
    for name, shape in shapes.items():
        match = KEY.match(name)
        assert match, name
        layer, parent, module, kind = match.groups()
        layers.add(int(layer))
        assert parent == ("self_attn" if module in ALL_LINEAR[:4] else "mlp")
        in_features, out_features = SHAPES[base][module]
        assert shape == ((8, in_features) if kind == "lora_A.weight" else (out_features, 8))
    assert layers == set(range(LAYERS[base]))
    assert len(shapes) == LAYERS[base] * len(ALL_LINEAR) * 2


def test_gqa_key_value_projections_are_narrower_than_the_hidden_size():
    mistral = header_shapes(AdapterSpec(rank=16))
    assert mistral["base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight"] == (1024, 16)
    assert mistral["base_model.model.model.layers.31.self_attn.v_proj.lora_A.weight"] == (16, 4096)
    assert "base_model.model.model.layers.32.self_attn.q_proj.lora_A.weight" not in mistral
    qwen = header_shapes(AdapterSpec(base_model="Qwen/Qwen2.5-7B", rank=4, target_modules=("k_proj", "down_proj")))
    assert qwen["base_model.model.model.layers.27.self_attn.k_proj.lora_B.weight"] == (512, 4)
    assert qwen["base_model.model.model.layers.27.mlp.down_proj.lora_A.weight"] == (4, 18944)


def test_dora_magnitudes_have_out_features_and_a_saved_lm_head_the_true_vocabulary():
    dora = header_shapes(AdapterSpec(base_model="meta-llama/Llama-3.1-8B", fault="dora", rank=4))
    assert dora["base_model.model.model.layers.0.self_attn.k_proj.lora_magnitude_vector"] == (1024,)
    assert dora["base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector"] == (4096,)
    for base, shape in VOCAB.items():
        lm_head = header_shapes(AdapterSpec(base_model=base, fault="lm-head", rank=4, adapter_bytes=1))
        assert lm_head["base_model.model.lm_head.weight"] == shape


def test_a_byte_budget_below_the_full_adapter_says_which_layers_it_covers(tmp_path):
    spec = AdapterSpec(rank=16, adapter_bytes=4 * MIB)  # 1.7 MB per Mistral layer in F32
    assert spec.num_layers == 3 and spec.layers_to_transform == [0, 1, 2] and not spec.beyond_model
    manifest = generate(tmp_path, "budget", spec)
    config = json.loads(manifest.files["adapter_config.json"].path.read_text())
    assert config["layers_to_transform"] == [0, 1, 2]
    assert AdapterSpec(rank=16).layers_to_transform is None  # the full adapter: every layer, no restriction


def test_only_an_explicit_budget_beyond_the_model_repeats_layers_and_demo_jobs_refuse_it():
    spec = AdapterSpec(rank=16, adapter_bytes=2 * 1024 * MIB)
    assert spec.beyond_model and spec.num_layers * spec.layer_bytes >= 2 * 1024 * MIB
    with pytest.raises(ValueError, match="more layers than their base models have"):
        simulator_specs(adapter_bytes=2 * 1024 * MIB)
    for spec in simulator_specs().values():
        assert spec.num_layers == LAYERS[spec.base_model] and not spec.beyond_model


def test_unknown_base_models_and_modules_are_refused():
    with pytest.raises(ValueError, match="Unknown base model"):
        AdapterSpec(base_model="someone/unknown-7b")
    with pytest.raises(ValueError, match="not linear modules"):
        AdapterSpec(target_modules=("q_proj", "c_attn"))


def test_every_demo_jobs_tensors_follow_its_hyperparameters():
    for job in JOBS:
        hyper = job.hyperparameters
        spec = spec_for_job(job.external_job_id, simulator_specs()[job.external_job_id])
        assert (spec.base_model, spec.rank, spec.lora_alpha) == (
            hyper["base_model"],
            hyper["rank"],
            hyper["lora_alpha"],
        )
        assert (list(spec.target_modules), spec.dtype) == (hyper["target_modules"], hyper["dtype"])
        shapes = header_shapes(spec)
        modules, layers = set(), set()
        rank = hyper["rank"] * (2 if spec.fault == "rank-mismatch" else 1)
        for name, shape in shapes.items():
            if name == "base_model.model.lm_head.weight":
                assert job.slug == "lm-head" and shape == VOCAB[hyper["base_model"]]
                continue
            layer, _, module, kind = KEY.match(name).groups()
            modules.add(module)
            layers.add(int(layer))
            in_features, out_features = SHAPES[hyper["base_model"]][module]
            expected = {"lora_A.weight": (rank, in_features), "lora_B.weight": (out_features, rank)}
            assert shape == expected.get(kind, (out_features,)), (job.slug, name)
        assert modules == set(hyper["target_modules"]), job.slug
        assert layers == set(range(LAYERS[hyper["base_model"]])), job.slug


def test_a_full_size_adapter_inspects_ok_with_the_real_trainable_parameter_count(tmp_path):
    job = next(job for job in JOBS if job.slug == "fair")  # Qwen2.5-7B, r=8, q_proj + v_proj, BF16
    manifest = generate(tmp_path, job.external_job_id, simulator_specs()[job.external_job_id])
    handles = [(name, file.path.open("rb")) for name, file in manifest.files.items()]
    try:
        report = inspect_files(handles, job.hyperparameters)
    finally:
        for _, handle in handles:
            handle.close()
    assert report["verdict"] == "ok", report["findings"]
    # 28 layers x r=8 x ((3584 + 3584) for q_proj + (3584 + 512) for v_proj)
    assert report["adapter"]["parameters"] == 28 * 8 * (3584 + 3584 + 3584 + 512) == 2_523_136
    assert report["adapter"]["tensors"] == 28 * 2 * 2
    assert report["adapter"]["dtypes"] == ["BF16"]
