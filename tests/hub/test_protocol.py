"""The Hub endpoints through Django's test client: shapes, headers, paging, errors, isolation."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client

from artifacts.services import registry
from tests.hub.conftest import REPO, adapter_files, revision_with, stored_card

pytestmark = pytest.mark.django_db
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def hub(world, method, path, who="alice", **headers):
    raw = {"alice": world.token, "bob": world.bob_token, None: None}.get(who, who)
    if raw:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    return Client().generic(method, f"/hub/{path}", **headers)


def test_repository_info_at_main_an_alias_and_a_commit(world):
    info = hub(world, "GET", f"api/models/{REPO}").json()
    assert (info["id"], info["sha"], info["private"], info["library_name"]) == (REPO, world.second.commit, True, "peft")
    assert TIME.match(info["lastModified"])
    assert [s["rfilename"] for s in info["siblings"]] == [
        "MODEL_CARD.md",
        "README.md",
        "SHA256SUMS",
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    production = hub(world, "GET", f"api/models/{REPO}/revision/production?blobs=true").json()
    assert production["sha"] == world.first.commit
    assert "base_model:adapter:tiny-random-llama" in production["tags"]
    weights = next(s for s in production["siblings"] if s["rfilename"] == "adapter_model.safetensors")
    data = world.files[world.first.commit]["adapter_model.safetensors"]
    assert weights["size"] == len(data) and weights["lfs"]["sha256"] == hashlib.sha256(data).hexdigest()
    by_commit = hub(world, "GET", f"api/models/{REPO}/revision/{world.first.commit}").json()
    assert by_commit["sha"] == world.first.commit
    assert "inspection.json" in [s["rfilename"] for s in by_commit["siblings"]]


def test_tree_pages_with_link(world, settings):
    settings.HUB_TREE_PAGE_SIZE = 2
    url = f"api/models/{REPO}/tree/production?recursive=true"
    paths, pages = [], 0
    while url:
        response = hub(world, "GET", url)
        assert response.status_code == 200
        paths += [item["path"] for item in response.json()]
        pages += 1
        link = response.headers.get("Link")
        url = re.match(r'<http://testserver/hub/(.+)>; rel="next"', link).group(1) if link else None
    assert pages == 3
    assert paths == sorted(
        ["README.md", "SHA256SUMS", "adapter_config.json", "adapter_model.safetensors", "inspection.json"]
    )
    bad = hub(world, "GET", f"api/models/{REPO}/tree/production?cursor=***")
    assert bad.status_code == 400
    missing = hub(world, "GET", f"api/models/{REPO}/tree/production/no-such-folder")
    assert (missing.status_code, missing["X-Error-Code"]) == (404, "EntryNotFound")


def test_resolve_head_and_get(world):
    data = world.files[world.first.commit]["adapter_model.safetensors"]
    head = hub(world, "HEAD", f"{REPO}/resolve/production/adapter_model.safetensors")
    assert head.status_code == 200
    assert head["X-Repo-Commit"] == world.first.commit
    assert head["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert head["Content-Length"] == head["X-Linked-Size"] == str(len(data))
    get = hub(world, "GET", f"{REPO}/resolve/{world.first.commit}/adapter_model.safetensors")
    assert get.status_code == 302 and "/downloads/" in get["Location"]
    assert get["X-Repo-Commit"] == world.first.commit
    # The generated card is served here, Range included.
    card = stored_card(world.first)
    whole = hub(world, "GET", f"{REPO}/resolve/production/README.md")
    assert whole.content == card and whole["ETag"] == f'"{hashlib.sha256(card).hexdigest()}"'
    part = hub(world, "GET", f"{REPO}/resolve/production/README.md", HTTP_RANGE="bytes=10-")
    assert part.status_code == 206 and part.content == card[10:]
    assert part["Content-Range"] == f"bytes 10-{len(card) - 1}/{len(card)}"
    assert (
        hub(world, "GET", f"{REPO}/resolve/production/README.md", HTTP_RANGE=f"bytes={len(card)}-").status_code == 416
    )
    # The cluster's README keeps its name; the card steps aside.
    theirs = hub(world, "GET", f"{REPO}/resolve/main/README.md")
    assert theirs.status_code == 302
    assert hub(world, "GET", f"{REPO}/resolve/main/MODEL_CARD.md").content == stored_card(world.second)


def test_errors_carry_the_hub_codes(world):
    cases = [
        ("GET", f"api/models/{REPO}/revision/staging", 404, "RevisionNotFound"),
        ("GET", f"api/models/{REPO}/revision/{'0' * 40}", 404, "RevisionNotFound"),
        ("GET", f"api/models/{REPO}/tree/nope", 404, "RevisionNotFound"),
        ("HEAD", f"{REPO}/resolve/nope/README.md", 404, "RevisionNotFound"),
        ("HEAD", f"{REPO}/resolve/main/nothing.bin", 404, "EntryNotFound"),
        ("GET", "api/models/alice/no-such-repo", 404, "RepoNotFound"),
    ]
    for method, path, status, code in cases:
        response = hub(world, method, path)
        assert (response.status_code, response.get("X-Error-Code")) == (status, code), path
        assert response["X-Error-Message"]
    assert hub(world, "GET", "api/models/alice/x").json()["error"].startswith("Repository not found")
    assert hub(world, "POST", f"api/models/{REPO}").status_code == 405
    assert hub(world, "GET", "api/whoami-v2", who="plt_not-a-real-token-at-all").status_code == 401


@pytest.mark.parametrize("token", ["bob", None])
def test_another_users_repository_is_repo_not_found_everywhere(world, token):
    status = 404 if token else 401
    for method, path in [
        ("GET", f"api/models/{REPO}"),
        ("GET", f"api/models/{REPO}/revision/production"),
        ("GET", f"api/models/{REPO}/revision/{world.first.commit}"),
        ("GET", f"api/models/{REPO}/tree/main"),
        ("GET", f"api/models/{REPO}/refs"),
        ("GET", f"api/models/{REPO}/tree/{world.first.commit}/adapter_config.json"),
        ("HEAD", f"{REPO}/resolve/main/adapter_config.json"),
        ("GET", f"{REPO}/resolve/main/adapter_config.json"),
        ("GET", f"{REPO}/resolve/main/README.md"),
    ]:
        response = hub(world, method, path, who=token)
        assert (response.status_code, response["X-Error-Code"]) == (status, "RepoNotFound"), (method, path)
        assert "Location" not in response and b"adapter" not in response.content
    if token:  # bob's own repository answers him
        assert hub(world, "GET", f"api/models/{world.bob_repository.full_name}", who="bob").status_code == 200


def test_whoami(world):
    me = hub(world, "GET", "api/whoami-v2").json()
    assert (me["type"], me["name"]) == ("user", "alice")
    assert hub(world, "GET", "api/whoami-v2", who=None).status_code == 401


def test_main_skips_an_unusable_revision_on_the_hub(world, alice):
    broken = revision_with(alice, world.first.dataset, adapter_files(9), days_ago=0, verdict="unusable")
    registry.follow_main(world.repository)
    assert hub(world, "GET", f"api/models/{REPO}").json()["sha"] == world.second.commit
    by_commit = hub(world, "GET", f"api/models/{REPO}/revision/{broken.commit}")
    assert by_commit.json()["sha"] == broken.commit  # still reachable by its commit


def test_a_deleted_revision_is_gone(world):
    from artifacts.services import lifecycle

    lifecycle.soft_delete(world.first)
    response = hub(world, "GET", f"api/models/{REPO}/revision/{world.first.commit}")
    assert (response.status_code, response["X-Error-Code"]) == (404, "RevisionNotFound")
    assert hub(world, "GET", f"api/models/{REPO}/revision/production").status_code == 404


def test_refs_are_the_aliases_with_the_commits_they_resolve_to(world, alice):
    from artifacts.services import lifecycle

    refs = hub(world, "GET", f"api/models/{REPO}/refs").json()
    assert refs == {
        "branches": [
            {"name": "main", "ref": "refs/heads/main", "targetCommit": world.second.commit},
            {"name": "production", "ref": "refs/heads/production", "targetCommit": world.first.commit},
        ],
        "converts": [],
        "tags": [],
    }
    assert hub(world, "GET", f"api/models/{REPO}/refs?include_prs=1").json()["pullRequests"] == []

    registry.move_alias(alice, world.repository, "staging", world.second)
    lifecycle.soft_delete(world.first)  # production no longer resolves: it is not offered
    names = [(b["name"], b["targetCommit"]) for b in hub(world, "GET", f"api/models/{REPO}/refs").json()["branches"]]
    assert names == [("main", world.second.commit), ("staging", world.second.commit)]


def test_the_listing_is_the_callers_repositories_searched_sorted_and_paged(world, alice):
    from artifacts.models import Repository

    empty = Repository.objects.create(user=alice, name="Legal-clauses-lora")  # no revision yet
    listed = hub(world, "GET", "api/models")
    assert listed.status_code == 200
    [support, legal] = listed.json()  # newest revision first; a repository without one last
    assert (support["id"], support["author"], support["sha"]) == (REPO, "alice", world.second.commit)
    assert TIME.match(support["lastModified"]) and TIME.match(support["createdAt"]) and support["private"] is True
    assert (legal["id"], legal["sha"], legal["lastModified"]) == ("alice/Legal-clauses-lora", None, None)

    def ids(query: str, who="alice") -> list[str]:
        response = hub(world, "GET", f"api/models?{query}", who=who)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()]

    assert ids("author=alice&search=ALICE/SUPPORT") == [REPO]
    assert ids("search=clauses") == [empty.full_name]
    assert ids("sort=id&direction=1") == ["alice/Legal-clauses-lora", REPO]
    assert ids("author=bob") == []  # someone else's are never listed here
    assert ids("", who="bob") == [world.bob_repository.full_name]

    first = hub(world, "GET", "api/models?sort=id&direction=1&limit=1")
    assert [item["id"] for item in first.json()] == ["alice/Legal-clauses-lora"]
    following = re.search(r"<http://testserver/hub/(api/models\?[^>]+)>; rel=\"next\"", first["Link"]).group(1)
    second = hub(world, "GET", following)
    assert [item["id"] for item in second.json()] == [REPO] and "Link" not in second

    assert hub(world, "GET", "api/models", who=None).status_code == 401
    for query in ("filter=text-classification", "sort=downloads", "limit=0", "limit=x", "cursor=***", "search=%00"):
        refused = hub(world, "GET", f"api/models?{query}")
        assert refused.status_code == 400, query
        assert refused["X-Error-Message"]
