"""PEFT loads an adapter by repository id and alias from the live server, as from the local folder.

One subprocess (torch is slow to import): a tiny random Llama built from a config on CPU (nothing
downloaded), then ``PeftModel.from_pretrained(base, "alice/support-bot-lora", revision="production")``
with ``HF_ENDPOINT``/``HF_TOKEN`` in the environment, and the same adapter from a local folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.hub.conftest import REPO

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.hub_client, pytest.mark.torch]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch
    from peft import PeftModel
    from transformers import LlamaConfig, LlamaForCausalLM

    repo, folder = sys.argv[1], sys.argv[2]
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
    )

    def base():
        torch.manual_seed(0)
        return LlamaForCausalLM(config).eval()

    ids = torch.tensor([[1, 5, 9, 13, 17, 21]])
    with torch.no_grad():
        plain = base()(ids).logits
        by_id = PeftModel.from_pretrained(base(), repo, revision="production").eval()(ids).logits
        local = PeftModel.from_pretrained(base(), folder).eval()(ids).logits
    print(json.dumps({
        "by_id_vs_local": (by_id - local).abs().max().item(),
        "by_id_vs_base": (by_id - plain).abs().max().item(),
    }))
    """
)


def test_peft_loads_the_alias_by_repository_id(world, live_server, settings, tmp_path):
    settings.SITE_URL = live_server.url
    folder = tmp_path / "local-adapter"
    folder.mkdir()
    for name, data in world.files[world.first.commit].items():  # production's files, as downloaded by hand
        (folder / name).write_bytes(data)
    env = {
        **os.environ,
        "HF_ENDPOINT": f"{live_server.url}/hub",
        "HF_TOKEN": world.token,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "TRANSFORMERS_VERBOSITY": "error",
    }
    result = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", SCRIPT, REPO, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["by_id_vs_local"] == 0.0
    assert measured["by_id_vs_base"] > 1e-3  # the adapter does change the model
