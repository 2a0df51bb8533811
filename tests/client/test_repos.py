"""``pipeline download ns/repo@alias`` and ``pipeline alias set|rm`` against a live server (DESIGN §15)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from artifacts.models import Alias, AliasMove
from artifacts.services import registry
from tests.client.conftest import CONFIG, FILES, run
from tests.factories import add_file, make_artifact, make_dataset, make_job

pytestmark = pytest.mark.django_db(transaction=True)

V2_WEIGHTS = b"revision two weights" * 1000


def revision(user, dataset, name: str, days_ago: float, verdict: str = "ok", weights: bytes = b""):
    model = make_artifact(
        user,
        make_job(user, dataset),
        name=name,
        verdict=verdict,
        created_at=timezone.now() - timedelta(days=days_ago),
    )
    add_file(model, "adapter_config.json", CONFIG)
    add_file(model, "adapter_model.safetensors", weights or FILES["adapter_model.safetensors"])
    return model


@pytest.fixture
def repo(alice):
    """alice/support-chats-lora: v1 (old), v2 (newer, other weights), v3 (newest, unusable); main → v2."""
    dataset = make_dataset(alice, "Support chats")
    v1 = revision(alice, dataset, "Support v1", 3)
    v2 = revision(alice, dataset, "Support v2", 2, weights=V2_WEIGHTS)
    v3 = revision(alice, dataset, "Support v3", 1, verdict="unusable")
    registry.follow_main(v1.repository)
    return v1.repository, v1, v2, v3


def aliases(repository) -> dict:
    return dict(Alias.objects.filter(repository=repository).values_list("name", "artifact_id"))


def test_download_by_repository_fetches_main_into_the_models_folder(env_login, server, repo, tmp_path, monkeypatch):
    _, _, v2, _ = repo
    monkeypatch.chdir(tmp_path)
    result = run("download", "alice/support-chats-lora")
    assert result.exit_code == 0, result.output
    folder = tmp_path / v2.folder
    assert (folder / "adapter_model.safetensors").read_bytes() == V2_WEIGHTS
    assert v2.commit[:12] in result.output


def test_download_at_an_alias_follows_the_alias_after_it_moves(alice, env_login, server, repo, tmp_path):
    repository, v1, v2, _ = repo
    registry.move_alias(alice, repository, "production", v1)
    first = run("download", "alice/support-chats-lora@production", str(tmp_path / "a"))
    assert first.exit_code == 0, first.output
    assert (tmp_path / "a/adapter_model.safetensors").read_bytes() == FILES["adapter_model.safetensors"]
    registry.move_alias(alice, repository, "production", v2)
    second = run("download", "alice/support-chats-lora@production", str(tmp_path / "b"))
    assert second.exit_code == 0, second.output
    assert (tmp_path / "b/adapter_model.safetensors").read_bytes() == V2_WEIGHTS


def test_download_at_a_commit(env_login, server, repo, tmp_path):
    _, v1, _, _ = repo
    result = run("download", f"alice/support-chats-lora@{v1.commit}", str(tmp_path / "c"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c/adapter_model.safetensors").read_bytes() == FILES["adapter_model.safetensors"]


def test_a_commit_older_than_the_listed_revisions_says_how_to_get_it(env_login, server, repo, tmp_path, monkeypatch):
    import artifacts.api.repos as repos_api

    _, v1, _, _ = repo
    monkeypatch.setattr(repos_api, "DETAIL_LIMIT", 2)  # v3 and v2 are listed, v1 is not
    result = run("download", f"alice/support-chats-lora@{v1.commit}", str(tmp_path / "c"))
    assert result.exit_code == 1
    assert f"no revision with commit {v1.commit} among its 2 newest (of 3)" in result.output
    assert "pipeline models list --repository alice/support-chats-lora --json" in result.output
    unknown = run("download", f"alice/support-chats-lora@{'0' * 40}", str(tmp_path / "d"))
    assert unknown.exit_code == 1


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("alice/no-such-lora", "repository alice/no-such-lora not found"),
        ("bob/support-chats-lora", "repository bob/support-chats-lora not found"),
        ("alice/support-chats-lora@staging", "has no alias staging; its aliases: main"),
    ],
)
def test_download_of_what_is_not_there_says_so(env_login, server, repo, tmp_path, reference, message):
    result = run("download", reference, str(tmp_path / "x"))
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("reference", ["alice/bad..name", "alice/x@Prod", "alice/", "alice/x@"])
def test_a_malformed_reference_is_wrong_usage(env_login, reference, tmp_path):
    result = run("download", reference, str(tmp_path / "x"))
    assert result.exit_code == 2
    assert "not" in result.output or "nothing after @" in result.output


def test_alias_set_moves_the_alias_and_the_server_records_it(alice, env_login, server, repo):
    repository, v1, _, _ = repo
    result = run("alias", "set", "alice/support-chats-lora", "production", str(v1.pk))
    assert result.exit_code == 0, result.output
    assert f"alice/support-chats-lora@production -> model {v1.pk}" in result.output
    assert aliases(repository)["production"] == v1.pk
    move = AliasMove.objects.get(repository=repository, alias="production")
    assert (move.to_commit, move.by, move.forced) == (v1.commit, alice, False)


def test_alias_set_to_an_unusable_revision_needs_force(alice, env_login, server, repo):
    repository, _, _, v3 = repo
    refused = run("alias", "set", "alice/support-chats-lora", "production", str(v3.pk))
    assert refused.exit_code == 1
    assert "unusable" in refused.output and "--force" in refused.output
    assert "production" not in aliases(repository)
    forced = run("alias", "set", "alice/support-chats-lora", "production", str(v3.pk), "--force")
    assert forced.exit_code == 0, forced.output
    assert aliases(repository)["production"] == v3.pk
    assert AliasMove.objects.get(repository=repository, alias="production").forced


def test_alias_set_errors(env_login, server, repo, bob):
    _, v1, _, _ = repo
    other = make_artifact(bob, name="Bob's")
    missing = run("alias", "set", "alice/no-such-lora", "production", str(v1.pk))
    assert missing.exit_code == 1 and "repository alice/no-such-lora not found" in missing.output
    foreign = run("alias", "set", "alice/support-chats-lora", "production", str(other.pk))
    assert foreign.exit_code == 1 and f"model {other.pk} not found" in foreign.output
    bad = run("alias", "set", "alice/support-chats-lora", "Production", str(v1.pk))
    assert bad.exit_code == 2 and "not an alias name" in bad.output


def test_alias_rm_removes_and_rm_main_unpins(alice, env_login, server, repo):
    repository, v1, v2, _ = repo
    registry.move_alias(alice, repository, "staging", v1)
    removed = run("alias", "rm", "alice/support-chats-lora", "staging")
    assert removed.exit_code == 0, removed.output
    assert "staging" not in aliases(repository)
    again = run("alias", "rm", "alice/support-chats-lora", "staging")
    assert again.exit_code == 1 and "has no alias staging" in again.output

    assert run("alias", "set", "alice/support-chats-lora", "main", str(v1.pk)).exit_code == 0
    repository.refresh_from_db()
    assert repository.main_pinned and aliases(repository)["main"] == v1.pk
    unpinned = run("alias", "rm", "alice/support-chats-lora", "main")
    assert unpinned.exit_code == 0 and "follows the newest usable revision" in unpinned.output
    repository.refresh_from_db()
    assert not repository.main_pinned and aliases(repository)["main"] == v2.pk


def test_downloaded_folder_exists_only_for_the_resolved_model(env_login, server, repo, tmp_path):
    """The id path is unchanged: a model id still downloads as before."""
    _, v1, _, _ = repo
    result = run("download", str(v1.pk), str(tmp_path / "by-id"))
    assert result.exit_code == 0, result.output
    assert Path(tmp_path / "by-id/adapter_config.json").read_bytes() == CONFIG
