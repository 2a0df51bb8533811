"""The repository pages (DESIGN §15): revisions, aliases, moves with a confirm step, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from artifacts.models import Alias, AliasMove, ModelArtifact, Repository
from artifacts.services import registry
from tests.factories import make_artifact, make_dataset, make_job
from tests.page_text import text

pytestmark = pytest.mark.django_db

UNTRAINED = "Every lora_B matrix is zero: the adapter changes nothing."
UNUSABLE_INSPECTION = {
    "verdict": "unusable",
    "adapter": {"format": "safetensors", "base_model": "Qwen/Qwen2.5-0.5B", "r": 16},
    "findings": [{"code": "untrained_lora_b", "severity": "error", "message": UNTRAINED}],
}
CLEAN_INSPECTION = {
    "verdict": "ok",
    "adapter": {"format": "safetensors", "base_model": "Qwen/Qwen2.5-0.5B", "r": 64, "task_type": "CAUSAL_LM"},
    "findings": [],
}


def revision(user, dataset, name, *, days_ago: float, verdict: str = "ok", **extra) -> ModelArtifact:
    inspection = UNUSABLE_INSPECTION if verdict == "unusable" else CLEAN_INSPECTION
    return make_artifact(
        user,
        make_job(user, dataset),
        name=name,
        created_at=timezone.now() - timedelta(days=days_ago),
        verdict=verdict,
        inspection=inspection,
        **extra,
    )


def make_repo(alice):
    """alice/support-chats-lora with three revisions: v1 (old, ok), v2 (ok), v3 (newest, unusable)."""
    dataset = make_dataset(alice, "Support chats")
    v1 = revision(alice, dataset, "Support v1", days_ago=3)
    v2 = revision(alice, dataset, "Support v2", days_ago=2)
    v3 = revision(alice, dataset, "Support v3", days_ago=1, verdict="unusable")
    repository = v1.repository
    assert {v2.repository_id, v3.repository_id} == {repository.pk}
    registry.follow_main(repository)
    return repository, v1, v2, v3


@pytest.fixture
def repo(alice):
    return make_repo(alice)


def page_url(repository, suffix: str = "") -> str:
    return f"/repos/{repository.user.username}/{repository.name}{suffix}"


def aliases(repository) -> dict[str, object]:
    return dict(Alias.objects.filter(repository=repository).values_list("name", "artifact_id"))


def test_the_owner_sees_revisions_aliases_and_history(alice, alice_client, repo):
    repository, v1, v2, v3 = repo
    registry.move_alias(alice, repository, "production", v1)
    response = alice_client.get(page_url(repository))
    assert response.status_code == 200
    page = text(response)
    assert "alice/support-chats-lora" in page
    rows = response.content.decode().split('data-testid="revision-row"')[1:]
    assert [r.split('data-commit="')[1][:40] for r in rows] == [v3.commit, v2.commit, v1.commit]  # newest first
    assert v1.commit in page and v1.commit[:7] in page  # the short commit, and the full one to copy
    assert "Unusable" in page  # v3's verdict badge
    history = response.content.decode().split('data-testid="alias-history"')[1]
    assert v1.commit[:7] in history and "alice" in history  # production set by alice
    assert "automatically" in history  # main following the newest usable revision (v2, not v3)
    assert aliases(repository) == {"main": v2.pk, "production": v1.pk}


def test_moving_an_alias_goes_through_a_confirm_step_and_is_recorded(alice, alice_client, repo):
    repository, v1, v2, _ = repo
    registry.move_alias(alice, repository, "production", v1)
    confirm = alice_client.get(page_url(repository, "/aliases/move"), {"alias": "production", "model": v2.pk})
    assert confirm.status_code == 200
    assert "Point production at Support v2?" in text(confirm)
    assert aliases(repository)["production"] == v1.pk  # a GET changes nothing
    moved = alice_client.post(page_url(repository, "/aliases/move"), {"alias": "production", "model": v2.pk})
    assert moved.status_code == 302 and moved["Location"] == page_url(repository)
    assert aliases(repository)["production"] == v2.pk
    last = AliasMove.objects.filter(repository=repository, alias="production").order_by("-at", "-id").first()
    assert (last.from_commit, last.to_commit, last.by, last.forced) == (v1.commit, v2.commit, alice, False)
    after = text(alice_client.get(page_url(repository)))
    assert "production now points at Support v2" in after


def test_choosing_the_revision_first_when_only_the_alias_is_given(alice_client, repo):
    repository, v1, v2, v3 = repo
    response = alice_client.get(page_url(repository, "/aliases/move"), {"alias": "staging"})
    assert response.status_code == 200
    body = response.content.decode()
    assert all(f'value="{v.pk}"' in body for v in (v1, v2, v3))
    assert "Point staging at which revision?" in text(response)


def test_moving_to_an_unusable_revision_needs_force(alice, alice_client, repo):
    repository, v1, _, v3 = repo
    registry.move_alias(alice, repository, "production", v1)
    confirm = alice_client.get(page_url(repository, "/aliases/move"), {"alias": "production", "model": v3.pk})
    assert 'name="force"' in confirm.content.decode()
    assert UNTRAINED in text(confirm)
    refused = alice_client.post(page_url(repository, "/aliases/move"), {"alias": "production", "model": v3.pk})
    assert refused.status_code == 409
    assert "Tick the box" in text(refused)
    assert aliases(repository)["production"] == v1.pk
    forced = alice_client.post(
        page_url(repository, "/aliases/move"), {"alias": "production", "model": v3.pk, "force": "1"}
    )
    assert forced.status_code == 302
    assert aliases(repository)["production"] == v3.pk
    assert AliasMove.objects.filter(repository=repository, alias="production", forced=True, by=alice).count() == 1
    history = alice_client.get(page_url(repository)).content.decode().split('data-testid="alias-history"')[1]
    assert "forced" in history


def test_moving_main_by_hand_pins_it_and_unpin_follows_again(alice, alice_client, repo):
    repository, v1, v2, _ = repo
    confirm = alice_client.get(page_url(repository, "/aliases/move"), {"alias": "main", "model": v1.pk})
    assert "pins it" in text(confirm)
    alice_client.post(page_url(repository, "/aliases/move"), {"alias": "main", "model": v1.pk})
    repository.refresh_from_db()
    assert repository.main_pinned and aliases(repository)["main"] == v1.pk
    assert "pinned" in text(alice_client.get(page_url(repository)))
    assert alice_client.post(page_url(repository, "/main/unpin")).status_code == 302
    repository.refresh_from_db()
    assert not repository.main_pinned and aliases(repository)["main"] == v2.pk
    assert alice_client.post(page_url(repository, "/main/pin")).status_code == 302
    repository.refresh_from_db()
    assert repository.main_pinned and aliases(repository)["main"] == v2.pk


def test_removing_an_alias_asks_then_removes_and_records(alice, alice_client, repo):
    repository, v1, _, _ = repo
    registry.move_alias(alice, repository, "staging", v1)
    ask = alice_client.get(page_url(repository, "/aliases/staging/remove"))
    assert ask.status_code == 200 and "Remove the alias staging?" in text(ask)
    assert "staging" in aliases(repository)
    assert alice_client.post(page_url(repository, "/aliases/staging/remove")).status_code == 302
    assert "staging" not in aliases(repository)
    last = AliasMove.objects.filter(repository=repository, alias="staging").order_by("-at", "-id").first()
    assert (last.from_commit, last.to_commit) == (v1.commit, "")
    assert alice_client.get(page_url(repository, "/aliases/staging/remove")).status_code == 404


def test_a_bad_alias_name_is_explained(alice_client, repo):
    repository, v1, _, _ = repo
    response = alice_client.post(page_url(repository, "/aliases/move"), {"alias": "Prod Uction", "model": v1.pk})
    assert response.status_code == 400
    assert "lower-case letters" in text(response)
    response = alice_client.get(page_url(repository, "/aliases/move"), {"alias": "prod", "model": "not-a-model"})
    assert response.status_code == 400


def test_create_rename_and_move_a_model_between_repositories(alice, alice_client, repo):
    repository, v1, v2, _ = repo
    created = alice_client.post("/repos/new", {"name": "support-bot-lora", "description": "The bot"})
    assert created.status_code == 302 and created["Location"] == "/repos/alice/support-bot-lora"
    target = Repository.objects.get(user=alice, name="support-bot-lora")
    taken = alice_client.post("/repos/new", {"name": "Support-Bot-LoRA"})
    assert taken.status_code == 400 and "already have a repository" in text(taken)
    assert alice_client.post("/repos/new", {"name": "bad..name"}).status_code == 400

    moved = alice_client.post(f"/models/{v2.pk}/move", {"repository": target.pk})
    assert moved.status_code == 302
    v2.refresh_from_db()
    assert v2.repository_id == target.pk
    assert aliases(target) == {"main": v2.pk}  # main follows in the new repository
    assert aliases(repository) == {"main": v1.pk}  # and in the old one

    renamed = alice_client.post("/repos/alice/support-bot-lora/rename", {"name": "helpdesk-lora"})
    assert renamed.status_code == 302 and renamed["Location"] == "/repos/alice/helpdesk-lora"
    assert alice_client.get("/repos/alice/support-bot-lora").status_code == 404
    assert "alice/helpdesk-lora" in text(alice_client.get("/repos"))


def test_the_model_page_and_list_card_lead_to_the_repository(alice_client, repo):
    repository, v1, _, _ = repo
    detail = alice_client.get(f"/models/{v1.pk}")
    assert f"/models/{v1.pk}/repository" in detail.content.decode()
    assert "alice/support-chats-lora" in text(detail)
    assert f"/models/{v1.pk}/repository" in alice_client.get("/models").content.decode()
    go = alice_client.get(f"/models/{v1.pk}/repository")
    assert go.status_code == 302 and go["Location"] == page_url(repository)
    assert 'href="/repos"' in detail.content.decode()  # the navigation


def test_another_user_gets_404_on_every_page_and_post(alice, bob_client, repo):
    repository, v1, _, _ = repo
    registry.move_alias(alice, repository, "staging", v1)
    before = (aliases(repository), AliasMove.objects.count(), repository.name)
    gets = [
        page_url(repository),
        page_url(repository, "/rename"),
        page_url(repository, "/aliases/move") + f"?alias=production&model={v1.pk}",
        page_url(repository, "/aliases/staging/remove"),
        f"/models/{v1.pk}/repository",
        f"/models/{v1.pk}/move",
    ]
    for url in gets:
        assert bob_client.get(url).status_code == 404, url
    posts = [
        (page_url(repository, "/rename"), {"name": "stolen"}),
        (page_url(repository, "/aliases/move"), {"alias": "production", "model": v1.pk, "force": "1"}),
        (page_url(repository, "/aliases/staging/remove"), {}),
        (page_url(repository, "/main/pin"), {}),
        (page_url(repository, "/main/unpin"), {}),
        (f"/models/{v1.pk}/move", {"repository": repository.pk}),
    ]
    for url, data in posts:
        assert bob_client.post(url, data).status_code == 404, url
    repository.refresh_from_db()
    assert (aliases(repository), AliasMove.objects.count(), repository.name) == before
    assert "support-chats-lora" not in text(bob_client.get("/repos"))


def test_signed_out_visitors_are_sent_to_log_in(client, repo):
    repository = repo[0]
    response = client.get(page_url(repository))
    assert response.status_code == 302 and "/accounts/login" in response["Location"]


def test_revisions_are_paged_and_the_query_count_does_not_grow_with_them(
    alice, alice_client, repo, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    repository = repo[0]
    with CaptureQueriesContext(connection) as few:
        assert alice_client.get(page_url(repository)).status_code == 200
    dataset = repo[1].dataset
    for index in range(25):
        revision(alice, dataset, f"Support extra {index}", days_ago=10 + index)
    with django_assert_max_num_queries(len(few.captured_queries)):
        first = alice_client.get(page_url(repository))
    assert first.content.decode().count('data-testid="revision-row"') == 20
    assert "Page 1 of 2" in text(first)
    second = alice_client.get(page_url(repository), {"page": 2})
    assert second.content.decode().count('data-testid="revision-row"') == 28 - 20
    assert alice_client.get(page_url(repository), {"page": "x"}).status_code == 200
