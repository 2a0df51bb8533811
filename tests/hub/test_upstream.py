"""Pass-through to an upstream Hub (``HUB_UPSTREAM_URL``) for repositories the product does not
hold, against a tiny fake upstream on a loopback port."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.test import Client
from huggingface_hub import HfApi, hf_hub_download

from tests.hub.conftest import REPO

pytestmark = pytest.mark.django_db
BASE = "org/tiny-base"
COMMIT = "c" * 40
CONFIG = b'{"model_type": "llama"}'


class FakeUpstream(BaseHTTPRequestHandler):
    """Repository info and tree of ``org/tiny-base``, its ``config.json`` behind a same-host redirect
    (as the Hub's resolve-cache does), and 404 RepoNotFound for everything else."""

    seen: list[tuple[str, str, str | None]] = []

    def log_message(self, *args):
        pass

    def _answer(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        FakeUpstream.seen.append((self.command, self.path, self.headers.get("Authorization")))
        host = f"http://{self.headers['Host']}"
        if self.path.startswith(f"/api/models/{BASE}/revision/main") or self.path == f"/api/models/{BASE}":
            info = {"id": BASE, "sha": COMMIT, "siblings": [{"rfilename": "config.json"}], "private": False}
            return self._answer(200, json.dumps(info).encode(), {"Content-Type": "application/json"})
        if self.path.startswith(f"/api/models/{BASE}/tree/main"):
            if "cursor=2" in self.path:
                page = [{"type": "file", "oid": "b" * 40, "size": 2, "path": "z.txt"}]
                return self._answer(200, json.dumps(page).encode(), {"Content-Type": "application/json"})
            page = [{"type": "file", "oid": "a" * 40, "size": len(CONFIG), "path": "config.json"}]
            link = f'<{host}/api/models/{BASE}/tree/main?recursive=True&cursor=2>; rel="next"'
            return self._answer(200, json.dumps(page).encode(), {"Content-Type": "application/json", "Link": link})
        if self.path == f"/{BASE}/resolve/main/config.json":
            return self._answer(307, headers={"Location": f"/api/resolve-cache/models/{BASE}/{COMMIT}/config.json"})
        if self.path in (
            f"/api/resolve-cache/models/{BASE}/{COMMIT}/config.json",
            f"/{BASE}/resolve/{COMMIT}/config.json",
        ):
            etag = '"' + "e" * 40 + '"'
            return self._answer(
                200, CONFIG, {"X-Repo-Commit": COMMIT, "ETag": etag, "Content-Type": "application/json"}
            )
        message = "Repository not found"
        return self._answer(
            404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound", "X-Error-Message": message}
        )


@pytest.fixture
def upstream(settings):
    FakeUpstream.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeUpstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.HUB_UPSTREAM_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.HUB_UPSTREAM_TOKEN = "upstream-secret"
    yield settings.HUB_UPSTREAM_URL
    server.shutdown()
    server.server_close()


def get(world, method, path, **headers):
    return Client().generic(method, f"/hub/{path}", HTTP_AUTHORIZATION=f"Bearer {world.token}", **headers)


def test_a_repository_we_do_not_hold_is_answered_upstream(world, upstream):
    info = get(world, "GET", f"api/models/{BASE}/revision/main")
    assert info.status_code == 200 and info.json()["sha"] == COMMIT
    tree = get(world, "GET", f"api/models/{BASE}/tree/main?recursive=True")
    assert tree.json()[0]["path"] == "config.json"
    assert tree["Link"] == f'<http://testserver/hub/api/models/{BASE}/tree/main?recursive=True&cursor=2>; rel="next"'
    # HEAD follows upstream's same-host redirect and passes on the headers the client reads.
    head = get(world, "HEAD", f"{BASE}/resolve/main/config.json")
    assert head.status_code == 200 and head["X-Repo-Commit"] == COMMIT
    assert head["ETag"] == '"' + "e" * 40 + '"' and head["Content-Length"] == str(len(CONFIG))
    # A file GET is sent upstream.
    file = get(world, "GET", f"{BASE}/resolve/main/config.json")
    assert file.status_code == 302 and file["Location"] == f"{upstream}/{BASE}/resolve/main/config.json"
    missing = get(world, "GET", "api/models/org/missing")
    assert (missing.status_code, missing["X-Error-Code"]) == (404, "RepoNotFound")
    # Our API token never leaves; the upstream token is sent instead.
    assert FakeUpstream.seen and {auth for _, _, auth in FakeUpstream.seen} == {"Bearer upstream-secret"}


def test_our_repositories_and_others_stay_ours(world, upstream):
    assert get(world, "GET", f"api/models/{REPO}").json()["sha"] == world.second.commit
    assert not FakeUpstream.seen
    # Someone else's repository is not ours to show: upstream answers for that id (it has none).
    other = get(world, "GET", f"api/models/{world.bob_repository.full_name}")
    assert (other.status_code, other["X-Error-Code"]) == (404, "RepoNotFound")


def test_the_listing_of_another_owner_is_asked_upstream_and_ours_is_not(world, upstream):
    assert [item["id"] for item in get(world, "GET", "api/models?author=alice").json()] == [REPO]
    assert not FakeUpstream.seen
    get(world, "GET", "api/models?author=org&search=tiny")
    assert [path for _, path, _ in FakeUpstream.seen] == ["/api/models?author=org&search=tiny"]


def test_off_by_default(world, settings):
    assert settings.HUB_UPSTREAM_URL == ""
    response = get(world, "GET", f"api/models/{BASE}")
    assert (response.status_code, response["X-Error-Code"]) == (404, "RepoNotFound")


@pytest.mark.django_db(transaction=True)
@pytest.mark.hub_client
def test_the_real_client_gets_base_model_files_through_the_product(world, upstream, live_server, settings, tmp_path):
    settings.SITE_URL = live_server.url
    endpoint = f"{live_server.url}/hub"
    assert HfApi(endpoint=endpoint, token=world.token).model_info(BASE).sha == COMMIT
    path = hf_hub_download(BASE, "config.json", endpoint=endpoint, token=world.token, cache_dir=tmp_path)
    assert Path(path).read_bytes() == CONFIG
    assert all(auth in (None, "Bearer upstream-secret") for _, _, auth in FakeUpstream.seen)
    assert not any(world.token in (auth or "") for _, _, auth in FakeUpstream.seen)
