"""Done as a new user would (issue 23): the snippet's ``snapshot_download`` at ``production`` fetches
the revision the alias points at, and moving the alias on the repository page makes the next one
fetch the new revision. Real ``huggingface_hub`` against the live server's ``/hub``."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from tests.conftest import logged_in
from tests.hub.conftest import REPO, world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db(transaction=True)


# One worker: the live server shares one SQLite connection between its threads.
def pulled(server: str, token: str, cache: Path) -> tuple[str, bytes]:
    from huggingface_hub import snapshot_download

    folder = Path(
        snapshot_download(
            REPO, revision="production", endpoint=f"{server}/hub", token=token, cache_dir=cache, max_workers=1
        )
    )
    return folder.name, (folder / "adapter_model.safetensors").read_bytes()


def test_moving_production_on_the_page_changes_what_the_next_snapshot_download_fetches(
    world,  # noqa: F811
    alice,
    live_server,
    settings,
    tmp_path,
):
    pytest.importorskip("huggingface_hub")
    settings.SITE_URL = live_server.url
    client = logged_in(alice)
    page = html.unescape(
        client.get(f"/repos/{REPO}", HTTP_HOST=live_server.url.removeprefix("http://")).content.decode()
    )
    endpoint = re.search(r"export HF_ENDPOINT=(\S+) HF_TOKEN=<your API token>", page).group(1)
    assert endpoint == f"{live_server.url}/hub"
    assert f'snapshot_download("{REPO}", revision="production")' in page

    commit, weights = pulled(live_server.url, world.token, tmp_path / "cache")
    assert commit == world.first.commit
    assert weights == world.files[world.first.commit]["adapter_model.safetensors"]

    confirm = client.get(f"/repos/{REPO}/aliases/move", {"alias": "production", "model": world.second.pk})
    assert confirm.status_code == 200
    assert (
        client.post(f"/repos/{REPO}/aliases/move", {"alias": "production", "model": world.second.pk}).status_code == 302
    )

    commit, weights = pulled(live_server.url, world.token, tmp_path / "cache")
    assert commit == world.second.commit
    assert weights == world.files[world.second.commit]["adapter_model.safetensors"]
