"""Where the client keeps its login, and how the environment overrides it.

The login (server URL and API token) is saved as JSON in ``$XDG_CONFIG_HOME/pipeline/config.json``
(``~/.config/pipeline/config.json`` by default), readable by its owner only (0600).
``PIPELINE_URL`` and ``PIPELINE_TOKEN`` in the environment take precedence over the saved values.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click

from pipeline_client.disk import write_atomically
from pipeline_client.errors import ClientError

URL_ENV = "PIPELINE_URL"
TOKEN_ENV = "PIPELINE_TOKEN"  # noqa: S105 -- the variable's name, not a secret
# Where to get a token (not a secret).
TOKEN_HELP = (
    "Create a token on the site's API tokens page ({url}/account/tokens), "  # noqa: S105
    "or ask an operator to run `python manage.py create_api_token USERNAME`."
)


@dataclass(frozen=True)
class Login:
    url: str
    token: str


def config_path() -> Path:
    """``$XDG_CONFIG_HOME/pipeline/config.json`` (click follows the platform's convention)."""
    return Path(click.get_app_dir("pipeline")) / "config.json"


def normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ClientError(f"not a server address: {url!r} (expected http(s)://host[:port])")
    return url


def read_saved() -> dict[str, str]:
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ClientError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise ClientError(f"{path} is not valid JSON; run `pipeline login` again") from None
    if not isinstance(data, dict):
        raise ClientError(f"{path} is not a login file; run `pipeline login` again")
    return {key: value for key, value in data.items() if isinstance(value, str)}


def save(login: Login) -> Path:
    """Write the login readable by its owner only (0600), replacing any earlier one atomically.

    The new file is created exclusively under a random name (mode 0600 from its first byte) and
    renamed over the old one, so neither a looser earlier file nor a planted link is written through.
    """
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomically(path, json.dumps({"url": login.url, "token": login.token}, indent=2) + "\n", mode=0o600)
    return path


def resolve() -> Login:
    """The login to use: the environment first, then the saved file."""
    url, token = os.environ.get(URL_ENV), os.environ.get(TOKEN_ENV)
    if not (url and token):
        saved = read_saved()
        url, token = url or saved.get("url"), token or saved.get("token")
        if saved and loose_permissions(config_path()):
            click.echo(f"warning: {config_path()} is readable by others; run `chmod 600` on it", err=True)
    if not url or not token:
        raise ClientError(f"not logged in: run `pipeline login --url URL` (or set {URL_ENV} and {TOKEN_ENV})")
    return Login(url=normalise_url(url), token=token.strip())


def loose_permissions(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))
