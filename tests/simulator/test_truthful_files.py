"""The simulated cluster tells the truth: each job's files follow its own hyperparameters, and each
adapter fault the demo promises is what inspection finds in the files served over HTTP."""

from __future__ import annotations

import hashlib

import pytest
import requests

from artifacts.inspection import AdapterInspector
from pipeline.demo_data import JOBS, simulator_specs
from pipeline.simulator.files import AdapterSpec, generate, spec_for_job
from pipeline.simulator.server import SimulatorConfig
from tests.conftest import simulator_running

KEY = "sim-inspection-key"
SMALL = 256 * 1024


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    specs = simulator_specs(adapter_bytes=SMALL)
    config = SimulatorConfig(
        api_key=KEY,
        cache_root=tmp_path_factory.mktemp("sim"),
        spec=AdapterSpec(rank=8, adapter_bytes=SMALL),
        jobs=specs,
    )
    with simulator_running(config) as server:
        yield server


def ingest_and_inspect(server, job_id: str, hyperparameters: dict | None) -> tuple[dict, dict]:
    """Stream every file like ingest does (advertised size first), checking the advertised sha256."""
    listing = requests.get(
        f"{server.base_url}/training/artifacts/{job_id}", headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ).json()
    advertised = listing["model_metadata"]["files"]
    inspector = AdapterInspector()
    for name, url in listing["download_urls"].items():
        inspector.start_file(name, advertised[name]["size"])
        digest, size = hashlib.sha256(), 0
        with requests.get(url, stream=True, timeout=30) as response:
            response.raise_for_status()
            for chunk in response.iter_content(8191):
                digest.update(chunk)
                size += len(chunk)
                inspector.feed(name, chunk)
        inspector.end_file(name, size)
        assert (size, digest.hexdigest()) == (advertised[name]["size"], advertised[name]["sha256"])
    return inspector.report(hyperparameters), listing


EXPECTED = {
    "excellent": (set(), "ok"),
    "good": (set(), "ok"),
    "good-code": (set(), "ok"),
    "untrained": ({"untrained_lora_b"}, "unusable"),
    "nan-weights": ({"nonfinite_values"}, "unusable"),
    "rank-mismatch": ({"rank_mismatch"}, "unusable"),
    "short-header": ({"safetensors_invalid"}, "unusable"),
    "lm-head": ({"modules_to_save"}, "warnings"),
    "dora": ({"dora"}, "warnings"),
    "pickle-only": ({"pickle_format"}, "warnings"),
    "no-weights": ({"no_adapter_weights"}, "unusable"),
}
DEMO = {job.slug: job for job in JOBS}


@pytest.mark.parametrize("slug", sorted(EXPECTED))
def test_each_demo_job_inspects_to_the_codes_its_name_promises(simulator, slug):
    job = DEMO[slug]
    report, listing = ingest_and_inspect(simulator, job.external_job_id, job.hyperparameters)
    codes, verdict = EXPECTED[slug]
    assert {f["code"] for f in report["findings"]} == codes, report["findings"]
    assert report["verdict"] == verdict
    # the files match the job: no job_config_mismatch, and the listing says the same
    metadata = listing["model_metadata"]
    assert metadata["rank"] == job.hyperparameters["rank"]
    assert metadata["base_model"] == job.hyperparameters["base_model"]
    if report["adapter"]["format"] == "safetensors" and verdict != "unusable":
        assert report["adapter"]["r"] == job.hyperparameters["rank"]
        assert report["adapter"]["lora_alpha"] == job.hyperparameters["lora_alpha"]
        assert report["adapter"]["target_modules"] == job.hyperparameters["target_modules"]
        assert report["adapter"]["dtypes"] == [job.hyperparameters["dtype"]]


def test_a_job_the_cluster_did_not_register_gets_the_default_adapter_and_id_faults_still_apply(simulator):
    report, _ = ingest_and_inspect(simulator, "sim-adhoc-1", {"rank": 8})
    assert report["verdict"] == "ok" and report["adapter"]["r"] == 8
    report, _ = ingest_and_inspect(simulator, "sim-adhoc-untrained-2", {"rank": 8})
    assert {f["code"] for f in report["findings"]} == {"untrained_lora_b"}


def test_adapter_configs_differ_per_demo_job(tmp_path):
    digests = {}
    for job_id, spec in simulator_specs(adapter_bytes=SMALL).items():
        manifest = generate(tmp_path, job_id, spec_for_job(job_id, spec))
        digests[job_id] = manifest.files["adapter_config.json"].sha256
    assert len(set(digests.values())) == len(digests)


def test_a_job_with_different_settings_is_flagged_as_a_mismatch(simulator):
    job = DEMO["good"]
    wrong = {**job.hyperparameters, "rank": 64}
    report, _ = ingest_and_inspect(simulator, job.external_job_id, wrong)
    assert {f["code"] for f in report["findings"]} == {"job_config_mismatch"}
