"""The real ``huggingface_hub`` client against a live server (``HF_ENDPOINT={live_server}/hub``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

import artifacts.pages.downloads as downloads
from tests.hub.conftest import REPO, stored_card

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.hub_client]


@pytest.fixture
def endpoint(live_server, settings) -> str:
    settings.SITE_URL = live_server.url  # signed local-storage URLs point at the live server
    return f"{live_server.url}/hub"


def fetch(world, endpoint, tmp_path, revision, **kwargs) -> Path:
    return Path(
        snapshot_download(
            REPO,
            revision=revision,
            endpoint=endpoint,
            token=world.token,
            cache_dir=tmp_path / "cache",
            max_workers=1,
            **kwargs,
        )
    )


def test_model_info_list_files_and_whoami(world, endpoint):
    api = HfApi(endpoint=endpoint, token=world.token)
    info = api.model_info(REPO)
    assert info.sha == world.second.commit and info.private is True
    assert info.last_modified is not None
    production = api.model_info(REPO, revision="production", files_metadata=True)
    assert production.sha == world.first.commit
    weights = next(s for s in production.siblings if s.rfilename == "adapter_model.safetensors")
    data = world.files[world.first.commit]["adapter_model.safetensors"]
    assert (weights.size, weights.lfs.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert api.list_repo_files(REPO, revision="production") == [
        "README.md",
        "SHA256SUMS",
        "adapter_config.json",
        "adapter_model.safetensors",
        "inspection.json",
    ]
    assert api.whoami()["name"] == "alice"
    refs = api.list_repo_refs(REPO)
    assert {(b.name, b.target_commit) for b in refs.branches} == {
        ("main", world.second.commit),
        ("production", world.first.commit),
    }
    assert refs.tags == [] and refs.converts == []
    [listed] = api.list_models(author="alice")
    assert (listed.id, listed.sha, listed.private) == (REPO, world.second.commit, True)
    assert [m.id for m in api.list_models(search="support-bot")] == [REPO]
    assert list(api.list_models(author="bob")) == []


def test_snapshot_at_an_alias_and_at_a_commit_holds_the_clusters_bytes(world, endpoint, tmp_path, settings):
    settings.HUB_TREE_PAGE_SIZE = 2  # the listing takes three linked pages
    folder = fetch(world, endpoint, tmp_path, "production")
    assert folder.name == world.first.commit
    for name, data in world.files[world.first.commit].items():
        assert (folder / name).read_bytes() == data
    assert (folder / "README.md").read_bytes() == stored_card(world.first)
    assert json.loads((folder / "inspection.json").read_text())["verdict"] == "ok"
    sums = (folder / "SHA256SUMS").read_text()
    assert (
        f"{hashlib.sha256(world.files[world.first.commit]['adapter_config.json']).hexdigest()}  adapter_config.json"
        in sums
    )

    at_commit = fetch(world, endpoint, tmp_path, world.second.commit)
    assert at_commit.name == world.second.commit
    for name, data in world.files[world.second.commit].items():
        assert (at_commit / name).read_bytes() == data  # the cluster's README.md is theirs
    assert (at_commit / "MODEL_CARD.md").read_bytes() == stored_card(world.second)


def test_on_s3_the_client_follows_our_link_to_the_bucket_and_stops_when_the_model_goes(
    s3_storage, world, endpoint, tmp_path
):
    from artifacts.services.lifecycle import soft_delete

    stored = s3_storage.list_objects_v2(Bucket=s3_storage.bucket)["Contents"]
    assert any(item["Key"].endswith("adapter_model.safetensors") for item in stored)  # in the bucket
    folder = fetch(world, endpoint, tmp_path, "production")
    for name, data in world.files[world.first.commit].items():
        assert (folder / name).read_bytes() == data

    soft_delete(world.first)
    with pytest.raises(RevisionNotFoundError):
        fetch(world, endpoint, tmp_path / "after", world.first.commit)


def test_moving_an_alias_changes_what_the_next_download_fetches(world, endpoint, tmp_path, alice_client):
    assert fetch(world, endpoint, tmp_path, "production").name == world.first.commit
    moved = alice_client.put(
        f"/api/repos/{REPO}/aliases/production",
        data={"model": str(world.second.pk)},
        content_type="application/json",
    )
    assert moved.status_code == 200
    folder = fetch(world, endpoint, tmp_path, "production")
    assert folder.name == world.second.commit
    assert (folder / "adapter_model.safetensors").read_bytes() == world.files[world.second.commit][
        "adapter_model.safetensors"
    ]


def test_a_download_cut_mid_file_resumes_with_a_range(world, endpoint, tmp_path, monkeypatch):
    """huggingface_hub 2.x writes each download to a fresh ``.incomplete`` file and resumes it when
    the connection drops: it asks the resolve URL again with ``Range: bytes=N-`` and needs a 206."""
    data = world.files[world.first.commit]["adapter_model.safetensors"]
    served = []
    parse = downloads.parse_range

    def recording(header, size):
        span = parse(header, size)
        served.append((header, span))
        return span

    class CutOnce(downloads.FileSlice):
        """The first whole-file body stops after its first half: the client waits for the rest
        until its read timeout, as over a dropped connection."""

        cut = False

        def read(self, size=-1):
            if not CutOnce.cut and self._remaining == len(data):
                return super().read(len(data) // 2)
            if not CutOnce.cut and self._remaining == len(data) - len(data) // 2:
                CutOnce.cut = True
                return b""
            return super().read(size)

    monkeypatch.setattr(downloads, "parse_range", recording)
    monkeypatch.setattr(downloads, "FileSlice", CutOnce)
    monkeypatch.setattr(hf_constants, "HF_HUB_DOWNLOAD_TIMEOUT", 2)
    monkeypatch.setattr(hf_constants, "DOWNLOAD_CHUNK_SIZE", 512)  # the client counts whole chunks only
    path = hf_hub_download(
        REPO,
        "adapter_model.safetensors",
        revision="production",
        endpoint=endpoint,
        token=world.token,
        cache_dir=tmp_path / "cache",
    )
    assert CutOnce.cut
    assert Path(path).read_bytes() == data
    assert served == [(f"bytes={len(data) // 2}-", (len(data) // 2, len(data) - 1))]  # only the rest was sent again


def test_each_error_class(world, endpoint, tmp_path):
    api = HfApi(endpoint=endpoint, token=world.token)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(world.bob_repository.full_name)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(
            world.bob_repository.full_name,
            "adapter_config.json",
            endpoint=endpoint,
            token=world.token,
            cache_dir=tmp_path,
        )
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=endpoint, token=False).model_info(REPO)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(REPO, revision="staging")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(REPO, "README.md", revision="staging", endpoint=endpoint, token=world.token, cache_dir=tmp_path)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, "missing.bin", endpoint=endpoint, token=world.token, cache_dir=tmp_path)
    with pytest.raises(HfHubHTTPError) as bad_token:
        HfApi(endpoint=endpoint, token="plt_wrong-token-for-this-site").model_info(REPO)
    assert not isinstance(bad_token.value, RepositoryNotFoundError)
    assert bad_token.value.response.status_code == 401
