"""The repositories API and the registry fields of the models API (DESIGN §15)."""

from __future__ import annotations

import json

import pytest

from artifacts.models import Alias, AliasMove
from artifacts.services import registry
from tests.conftest import NOT_FOUND
from tests.factories import make_dataset
from tests.registry.conftest import revision

pytestmark = pytest.mark.django_db
REPO_NOT_FOUND = {"error": "Repository not found or access denied"}


@pytest.fixture
def repo(alice):
    """alice/support-chats-lora: an old good revision (main), a newer unusable one."""
    dataset = make_dataset(alice)
    good = revision(alice, dataset, days_ago=2)
    broken = revision(alice, dataset, days_ago=1, verdict="unusable")
    registry.follow_main(good.repository)
    return good.repository, good, broken


def put(client, url, body):
    return client.put(url, data=json.dumps(body), content_type="application/json")


def test_every_model_carries_repository_commit_and_aliases(alice_client, repo):
    repository, good, broken = repo
    registry.move_alias(repository.user, repository, "production", good)
    models = {m["id"]: m for m in alice_client.get("/api/models").json()["data"]["models"]}
    assert models[str(good.pk)]["repository"] == "alice/support-chats-lora"
    assert models[str(good.pk)]["commit"] == good.commit
    assert models[str(good.pk)]["aliases"] == ["main", "production"]
    assert models[str(broken.pk)]["aliases"] == []
    detail = alice_client.get(f"/api/models/{good.pk}").json()["data"]
    assert (detail["repository"], detail["commit"], detail["aliases"]) == (
        "alice/support-chats-lora",
        good.commit,
        ["main", "production"],
    )


def test_list_filters_by_repository_and_alias(alice, alice_client, repo):
    repository, good, broken = repo
    other = revision(alice, make_dataset(alice, name="Legal"))
    registry.follow_main(other.repository)

    def ids(query):
        response = alice_client.get(f"/api/models?{query}")
        assert response.status_code == 200, response.json()
        return {m["id"] for m in response.json()["data"]["models"]}

    assert ids("repository=alice/support-chats-lora") == {str(good.pk), str(broken.pk)}
    assert ids("repository=SUPPORT-chats-lora") == {str(good.pk), str(broken.pk)}
    assert ids("repository=legal-lora") == {str(other.pk)}
    assert ids("repository=bob/legal-lora") == set()
    assert ids("alias=main") == {str(good.pk), str(other.pk)}
    assert ids("alias=main&repository=legal-lora") == {str(other.pk)}
    assert alice_client.get("/api/models?alias=main").json()["data"]["pagination"]["total"] == 2
    for bad in ("repository=a/b/c", "repository=-x", "alias=Prod", "alias="):
        response = alice_client.get(f"/api/models?{bad}")
        assert response.status_code == 400 and bad.split("=")[0] in response.json()["error"]


def test_repository_list_and_detail(alice_client, repo):
    repository, good, broken = repo
    listed = alice_client.get("/api/repos").json()["data"]
    assert listed["pagination"]["total"] == 1
    (item,) = listed["repositories"]
    assert item["id"] == "alice/support-chats-lora" and item["revision_count"] == 2
    assert item["aliases"] == [{"name": "main", "model": str(good.pk), "commit": good.commit}]

    detail = alice_client.get("/api/repos/alice/support-chats-lora").json()["data"]
    assert [(r["model"], r["verdict"], r["score"], r["aliases"]) for r in detail["revisions"]] == [
        (str(broken.pk), "unusable", broken.quality_score, []),
        (str(good.pk), "ok", good.quality_score, ["main"]),
    ]
    assert [(a["name"], a["commit"]) for a in detail["aliases"]] == [("main", good.commit)]
    assert detail["history"][0]["alias"] == "main" and detail["history"][0]["to"]["commit"] == good.commit


def test_moving_an_alias_through_the_api(alice_client, repo):
    repository, good, broken = repo
    url = "/api/repos/alice/support-chats-lora/aliases/production"
    response = put(alice_client, url, {"model": str(good.pk)})
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["commit"] == good.commit
    # An unusable revision: 409 with a plain message, nothing moved; with force it moves.
    refused = put(alice_client, url, {"model": str(broken.pk)})
    assert refused.status_code == 409
    assert "unusable" in refused.json()["error"] and "force" in refused.json()["error"]
    assert Alias.objects.get(name="production").artifact_id == good.pk
    forced = put(alice_client, url, {"model": str(broken.pk), "force": True})
    assert forced.status_code == 200
    history = alice_client.get("/api/repos/alice/support-chats-lora").json()["data"]["history"]
    assert [(h["alias"], h["by"], h["forced"], (h["from"] or {}).get("commit"), h["to"]["commit"]) for h in history][
        :2
    ] == [
        ("production", "alice", True, good.commit, broken.commit),
        ("production", "alice", False, None, good.commit),
    ]
    assert alice_client.delete(url).status_code == 204
    assert not Alias.objects.filter(name="production").exists()
    assert alice_client.delete(url).status_code == 404


def test_alias_errors_are_the_api_envelope(alice, alice_client, repo):
    repository, good, broken = repo
    base = "/api/repos/alice/support-chats-lora/aliases"
    elsewhere = revision(alice, make_dataset(alice, name="Other"))
    cases = [
        (f"{base}/Production", {"model": str(good.pk)}, 400),
        (f"{base}/production", {"model": "not-a-uuid"}, 400),
        (f"{base}/production", {}, 400),
        (f"{base}/production", {"model": str(elsewhere.pk)}, 400),  # a model of another repository
        (f"{base}/production", {"model": "00000000-0000-0000-0000-000000000000"}, 404),
    ]
    for url, body, code in cases:
        response = put(alice_client, url, body)
        assert response.status_code == code, (url, body, response.content)
        assert set(response.json()) >= {"error"}
    assert not Alias.objects.filter(name="production").exists()
    assert alice_client.put(f"{base}/x", data="[1", content_type="application/json").status_code == 400


def test_another_users_repository_is_404_everywhere(alice, bob, bob_client, repo, client):
    repository, good, broken = repo
    urls = ["/api/repos/alice/support-chats-lora", "/api/repos/alice/support-chats-lora/aliases/main"]
    assert bob_client.get(urls[0]).json() == REPO_NOT_FOUND
    assert bob_client.get(urls[0]).status_code == 404
    assert put(bob_client, urls[1], {"model": str(good.pk)}).status_code == 404
    assert bob_client.delete(urls[1]).status_code == 404
    assert bob_client.get("/api/repos").json()["data"]["repositories"] == []
    # bob's own repository cannot take alice's model either.
    bobs = revision(bob)
    response = put(bob_client, f"/api/repos/bob/{bobs.repository.name}/aliases/x", {"model": str(good.pk)})
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert bob_client.get("/api/models?repository=alice/support-chats-lora").json()["data"]["models"] == []
    for url in ["/api/repos", *urls]:
        assert client.get(url).status_code == 401
    assert AliasMove.objects.filter(by=bob).count() == 0


def test_create_and_rename_a_repository(alice_client, repo):
    created = alice_client.post("/api/repos", data={"name": "triage-bot"}, content_type="application/json")
    assert created.status_code == 201 and created.json()["data"]["id"] == "alice/triage-bot"
    again = alice_client.post("/api/repos", data={"name": "Triage-Bot"}, content_type="application/json")
    assert again.status_code == 409
    bad = alice_client.post("/api/repos", data={"name": "a--b"}, content_type="application/json")
    assert bad.status_code == 400 and "--" in bad.json()["error"]
    renamed = alice_client.patch(
        "/api/repos/alice/triage-bot", data={"name": "triage"}, content_type="application/json"
    )
    assert renamed.json()["data"]["id"] == "alice/triage"
    assert alice_client.get("/api/repos/alice/triage-bot").status_code == 404
    assert alice_client.get("/api/repos/alice/triage").status_code == 200
