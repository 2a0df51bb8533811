import hashlib
import json
import socket

import pytest
import requests
from safetensors import safe_open

from pipeline.simulator.files import AdapterSpec
from pipeline.simulator.server import SimulatorConfig, SimulatorHandler
from tests.conftest import simulator_running

KEY = "sim-test-key"


@pytest.fixture
def simulator(tmp_path):
    config = SimulatorConfig(
        api_key=KEY, cache_root=tmp_path / "sim", spec=AdapterSpec(rank=8, adapter_bytes=3 * 1024 * 1024)
    )
    with simulator_running(config) as server:
        yield server


def listing(server, job_id, key=KEY):
    return requests.get(
        f"{server.base_url}/training/artifacts/{job_id}", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def test_listing_requires_the_bearer_key(simulator):
    assert listing(simulator, "sim-a", key="wrong").status_code == 401
    assert requests.get(f"{simulator.base_url}/training/artifacts/sim-a", timeout=5).status_code == 401


def test_files_are_peft_lora_and_match_advertised_size_and_sha256(simulator, tmp_path):
    response = listing(simulator, "sim-job-1")
    assert response.status_code == 200
    body = response.json()
    urls, advertised = body["download_urls"], body["model_metadata"]["files"]
    assert set(urls) == {
        "adapter_config.json",
        "adapter_model.safetensors",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "training_args.json",
    }
    for name, url in urls.items():
        data = requests.get(url, timeout=30).content  # presigned-style: no bearer key needed
        assert len(data) == advertised[name]["size"]
        assert hashlib.sha256(data).hexdigest() == advertised[name]["sha256"]
        (tmp_path / name).write_bytes(data)

    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["task_type"] == "CAUSAL_LM"
    assert config["r"] == 8 and config["bias"] == "none"
    assert {"base_model_name_or_path", "lora_alpha", "lora_dropout", "target_modules"} <= set(config)

    with safe_open(str(tmp_path / "adapter_model.safetensors"), framework="numpy") as tensors:
        names = list(tensors.keys())
        a = tensors.get_tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
        b = tensors.get_tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight")
        k = tensors.get_tensor("base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight")
    assert a.shape == (8, 4096) and b.shape == (4096, 8)
    assert k.shape == (1024, 8)  # Mistral-7B's 8 key/value heads x 128
    assert len(names) == 2 * len(config["target_modules"]) * body["model_metadata"]["num_layers"]
    assert advertised["adapter_model.safetensors"]["size"] >= 3 * 1024 * 1024


def test_file_urls_are_signed(simulator):
    url = listing(simulator, "sim-job-2").json()["download_urls"]["adapter_config.json"]
    assert requests.get(url.replace("signature=", "signature=0"), timeout=5).status_code == 403


def test_fault_modes(simulator):
    assert listing(simulator, "sim-not-ready-1").status_code == 404
    assert listing(simulator, "sim-empty-1").json()["download_urls"] == {}
    assert "html" in listing(simulator, "sim-badjson-1").headers["Content-Type"]
    urls = listing(simulator, "sim-missing-file-1").json()["download_urls"]
    assert requests.get(urls["tokenizer_config.json"], timeout=5).status_code == 404
    flaky = listing(simulator, "sim-flaky-1").json()["download_urls"]["adapter_config.json"]
    assert [requests.get(flaky, timeout=5).status_code for _ in range(3)] == [503, 503, 200]


def test_error_rate_injects_503s(tmp_path):
    with simulator_running(SimulatorConfig(api_key=KEY, cache_root=tmp_path, error_rate=1.0, seed=1)) as server:
        assert listing(server, "sim-x").status_code == 503


def test_size_scales_with_spec_without_changing_layout_rules():
    small = AdapterSpec(rank=16, adapter_bytes=2 * 1024 * 1024)  # Mistral q/k/v/o at r=16, F32: 1.7 MB a layer
    large = AdapterSpec(rank=16, adapter_bytes=2 * 1024 * 1024 * 1024)
    assert small.num_layers == 2 and small.layers_to_transform == [0, 1]
    assert large.num_layers * large.layer_bytes >= 2 * 1024 * 1024 * 1024
    assert AdapterSpec(rank=16).num_layers == 32  # no budget: the base model's own layer count


def test_answers_leave_at_once_rather_than_wait_for_the_clients_ack(simulator, monkeypatch):
    """Headers and body are written separately: with Nagle's algorithm on, a small answer's body
    waited for the client's delayed ACK (~40 ms each, six per job). Every connection has it off."""
    options: list[int] = []
    handle = SimulatorHandler.handle

    def recording(self):
        options.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        handle(self)

    monkeypatch.setattr(SimulatorHandler, "handle", recording)
    with requests.Session() as session:
        assert listing(simulator, "sim-a").status_code == 200
        assert session.get(f"{simulator.base_url}/health", timeout=30).status_code == 200

    assert len(options) == 2 and all(options)
