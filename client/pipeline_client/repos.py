"""Repositories and aliases (the server's DESIGN §15): ``ns/repo[@alias]`` references, resolving one
to the model it names, and moving or removing an alias.

The names follow the server's rules, checked here first so a typo gets a sentence instead of a 404:
a repository ``[A-Za-z0-9][A-Za-z0-9._-]{0,95}`` (no ``--`` or ``..``, not ending in ``.git``), an
alias ``[a-z0-9][a-z0-9._-]{0,62}``. After ``@`` a full 40-hex commit names one revision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pipeline_client.api import Api
from pipeline_client.errors import ApiError, ClientError

DEFAULT_ALIAS = "main"
_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_ALIAS = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_COMMIT = re.compile(r"[0-9a-f]{40}")


class BadName(ClientError):
    """A repository or alias name the server would never accept."""


@dataclass(frozen=True)
class RepoRef:
    namespace: str
    name: str
    revision: str = DEFAULT_ALIAS

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def is_commit(self) -> bool:
        return bool(_COMMIT.fullmatch(self.revision))

    def __str__(self) -> str:
        return f"{self.repo_id}@{self.revision}"


def looks_like_repo(text: str) -> bool:
    """A ``ns/repo`` reference rather than a model id (ids have no ``/``)."""
    return "/" in text


def check_alias(alias: str) -> str:
    if not _ALIAS.fullmatch(alias) or _COMMIT.fullmatch(alias):
        raise BadName(
            f"{alias!r} is not an alias name: 1 to 63 lower-case letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (and not 40 hex characters, which name a commit)"
        )
    return alias


def parse_repo(text: str, *, allow_revision: bool = True) -> RepoRef:
    """``ns/repo`` or ``ns/repo@alias`` (``@commit``); raises :class:`BadName` with the rule broken."""
    reference, at, revision = text.strip().partition("@")
    if at and not allow_revision:
        raise BadName(f"{text!r}: give the repository as namespace/name, without @")
    namespace, slash, name = reference.partition("/")
    if not slash or not namespace or "/" in name:
        raise BadName(f"{text!r} is not a repository: write it as namespace/name, e.g. alice/support-bot-lora")
    if not _REPO.fullmatch(name) or "--" in name or ".." in name or name.lower().endswith(".git"):
        raise BadName(
            f"{name!r} is not a repository name: letters, digits, '.', '_' and '-', starting with a letter "
            "or digit, no '--' or '..', not ending in .git, at most 96 characters"
        )
    if at and not revision:
        raise BadName(f"{text!r}: nothing after @ (give an alias such as production, or a commit)")
    if revision and not _COMMIT.fullmatch(revision):
        check_alias(revision)
    return RepoRef(namespace, name, revision or DEFAULT_ALIAS)


def repo_path(ref: RepoRef) -> str:
    return f"/api/repos/{quote(ref.namespace, safe='')}/{quote(ref.name, safe='')}"


def get_repository(client: Api, ref: RepoRef) -> dict[str, Any]:
    try:
        data = client.json("GET", repo_path(ref), what=ref.repo_id)
    except ApiError as exc:
        if exc.status == 404:
            raise ClientError(f"repository {ref.repo_id} not found (or it is not yours)") from None
        raise
    if not isinstance(data, dict):
        raise ClientError(f"the server's answer for {ref.repo_id} is not a repository")
    return data


def resolve(client: Api, ref: RepoRef) -> tuple[str, str]:
    """The model id and commit that ``ref``'s alias (or commit) points at now."""
    repository = get_repository(client, ref)
    if ref.is_commit:
        revisions = repository.get("revisions") or []
        match = next((r for r in revisions if isinstance(r, dict) and r.get("commit") == ref.revision), None)
        if match is None:
            listed, total = len(revisions), repository.get("revision_count")
            if isinstance(total, int) and total > listed:  # only the newest revisions are listed
                raise ClientError(
                    f"{ref.repo_id} has no revision with commit {ref.revision} among its {listed} newest"
                    f" (of {total}); download an older one by its model id"
                    f" (pipeline models list --repository {ref.repo_id} --json)"
                )
            raise ClientError(f"{ref.repo_id} has no revision with commit {ref.revision}")
        return str(match["model"]), ref.revision
    aliases = [a for a in repository.get("aliases") or [] if isinstance(a, dict)]
    alias = next((a for a in aliases if a.get("name") == ref.revision), None)
    if alias is None:
        known = ", ".join(sorted(str(a.get("name")) for a in aliases)) or "none"
        hint = " (main appears with the first revision that is not unusable)" if ref.revision == DEFAULT_ALIAS else ""
        raise ClientError(f"{ref.repo_id} has no alias {ref.revision}{hint}; its aliases: {known}")
    if alias.get("deleted"):
        raise ClientError(f"{ref} points at a deleted model; restore it or move the alias")
    return str(alias["model"]), str(alias.get("commit") or "")


def set_alias(client: Api, ref: RepoRef, alias: str, model_id: str, *, force: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model_id.strip(), "force": force}
    path = f"{repo_path(ref)}/aliases/{quote(alias, safe='')}"
    response = client.request("PUT", path, json=body, headers={"Accept": "application/json"})
    if response.status_code == 409:
        raise ClientError(
            f"model {model_id} is unusable as delivered (see its inspection on the model page); "
            f"add --force to point {alias} at it anyway"
        )
    if response.status_code == 404:
        raise ClientError(_not_found(response, ref, model_id))
    if response.status_code == 400:
        raise ClientError(f"{ref.repo_id}: {_error(response)}")
    client.raise_for_status(response, ref.repo_id)
    data = response.json().get("data") if response.content else None
    return data if isinstance(data, dict) else {}


def remove_alias(client: Api, ref: RepoRef, alias: str) -> None:
    response = client.request(
        "DELETE", f"{repo_path(ref)}/aliases/{quote(alias, safe='')}", headers={"Accept": "application/json"}
    )
    if response.status_code == 404:
        message = _error(response)
        if "alias" in message.lower():
            raise ClientError(f"{ref.repo_id} has no alias {alias}")
        raise ClientError(f"repository {ref.repo_id} not found (or it is not yours)")
    client.raise_for_status(response, ref.repo_id)


def _error(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return str(response.reason_phrase or "error")
    return str(body.get("error")) if isinstance(body, dict) and body.get("error") else str(response.reason_phrase)


def _not_found(response: Any, ref: RepoRef, model_id: str) -> str:
    message = _error(response)
    if message.lower().startswith("model"):
        return f"model {model_id} not found (or it is not yours)"
    return f"repository {ref.repo_id} not found (or it is not yours)"
