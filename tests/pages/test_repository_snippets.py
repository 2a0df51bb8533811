"""The repository page's copy-paste snippets: the real site, repo id and alias; nothing to load for
an unusable revision (DESIGN §14, §15)."""

from __future__ import annotations

import html
import re

import pytest

from artifacts.services import registry
from tests.page_text import text
from tests.pages.test_repository import CLEAN_INSPECTION, UNTRAINED, make_repo, page_url, revision

pytestmark = pytest.mark.django_db


@pytest.fixture
def repo(alice):
    return make_repo(alice)


def snippets(response) -> str:
    body = response.content.decode()
    return html.unescape(body.split('data-testid="repo-snippets"')[1].split("</section>")[0])


def test_snippets_name_the_site_the_repository_and_production(alice, alice_client, repo, settings):
    settings.ALLOWED_HOSTS = ["models.example.com"]
    repository, v1, _, _ = repo
    registry.move_alias(alice, repository, "production", v1)
    response = alice_client.get(page_url(repository), HTTP_HOST="models.example.com", secure=True)
    shown = snippets(response)
    assert "export HF_ENDPOINT=https://models.example.com/hub HF_TOKEN=<your API token>" in shown
    assert 'snapshot_download("alice/support-chats-lora", revision="production")' in shown
    assert 'AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-0.5B")' in shown
    assert 'PeftModel.from_pretrained(base, "alice/support-chats-lora", revision="production")' in shown
    # r = 64 needs a larger --max-lora-rank than vLLM's default
    assert (
        "vllm serve Qwen/Qwen2.5-0.5B --enable-lora --lora-modules support-chats-lora=alice/support-chats-lora "
        "--max-lora-rank 64"
    ) in shown
    assert re.search(r"vLLM names no revision: it fetches main ?, not production", text(response))
    assert '"adapter_id": "alice/support-chats-lora", "adapter_source": "hub"' in shown
    assert "pipeline download alice/support-chats-lora@production" in shown
    assert 'href="/account/tokens"' in shown


def test_without_production_the_snippets_use_main_and_another_alias_on_request(alice, alice_client, repo):
    repository, v1, v2, _ = repo
    shown = snippets(alice_client.get(page_url(repository)))
    assert 'revision="main"' in shown and "http://testserver/hub" in shown
    assert "not main" not in shown
    registry.move_alias(alice, repository, "staging", v1)
    shown = snippets(alice_client.get(page_url(repository), {"alias": "staging"}))
    assert 'snapshot_download("alice/support-chats-lora", revision="staging")' in shown
    assert v1.commit[:7] in shown


def test_no_token_is_ever_printed(alice, alice_client, repo):
    from accounts.models import ApiToken

    _, raw = ApiToken.objects.issue(alice, name="cli")
    body = alice_client.get(page_url(repo[0])).content.decode()
    assert raw not in body


def test_an_unusable_revision_gets_no_load_snippet(alice, alice_client, repo):
    repository, _, _, v3 = repo
    registry.move_alias(alice, repository, "production", v3, force=True)
    shown = snippets(alice_client.get(page_url(repository)))
    assert "Not ready to load" in shown and UNTRAINED in shown
    assert "snapshot_download" not in shown and "PeftModel" not in shown and "vllm serve" not in shown
    assert "HF_ENDPOINT" not in shown
    # main (v2, usable) still has its snippets
    shown = snippets(alice_client.get(page_url(repository), {"alias": "main"}))
    assert 'revision="main"' in shown


def test_an_engine_the_inspection_refuses_shows_why_instead_of_a_command(alice, alice_client):
    dora = {
        **CLEAN_INSPECTION,
        "serving": {
            "vllm": {
                "ready": False,
                "reasons": ["vLLM does not support DoRA adapters (use_dora / lora_magnitude_vector)."],
                "command": None,
            },
            "peft": {"ready": True, "reasons": [], "command": "python -c ..."},
        },
    }
    model = revision(alice, None, "DoRA run", days_ago=0, verdict="warnings")
    model.inspection = dora
    model.save(update_fields=["inspection"])
    registry.follow_main(model.repository)
    shown = snippets(alice_client.get(page_url(model.repository)))
    assert "vLLM does not support DoRA" in shown and "vllm serve" not in shown
    assert "PeftModel.from_pretrained" in shown


def test_an_empty_repository_says_there_is_nothing_to_pull_yet(alice, alice_client):
    alice_client.post("/repos/new", {"name": "empty-lora"})
    response = alice_client.get("/repos/alice/empty-lora")
    assert response.status_code == 200
    assert "No alias points at a revision yet" in text(response)
