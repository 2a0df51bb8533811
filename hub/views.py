"""The Hub protocol's read-only endpoints under ``/hub`` (DESIGN §15; facts in research R1–R5).

* ``GET /hub/api/models/{ns}/{repo}[/revision/{rev}]`` — repository info at a revision (R1).
* ``GET /hub/api/models/{ns}/{repo}/tree/{rev}[/{path}]`` — its files, paged with ``Link`` (R2).
* ``HEAD|GET /hub/{ns}/{repo}/resolve/{rev}/{path}`` — one file (R3): HEAD answers the headers the
  client reads (``X-Repo-Commit``, ``ETag``, sizes) itself; GET redirects a stored file to our own
  download link (``/downloads/<token>``, which checks the model on each request and serves
  ``Range``) and serves a generated file itself, ``Range`` included.
* ``GET /hub/api/models?author=&search=&sort=&direction=&limit=`` — the caller's repositories
  (``list_models``), paged with ``Link``.
* ``GET /hub/api/models/{ns}/{repo}/refs`` — its aliases as branches (``list_repo_refs``).
* ``GET /hub/api/whoami-v2`` — who the token is (R5).

A repository the caller does not hold (missing or someone else's) is ``RepoNotFound``; with
``HUB_UPSTREAM_URL`` set it is asked upstream instead (``hub.upstream``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from artifacts.models import ModelArtifact, Repository
from artifacts.pages.downloads import RangeNotSatisfiable, parse_range
from artifacts.storage.seam import url_ttl
from artifacts.storage.signing import download_link
from hub import upstream
from hub.auth import BadCredentials, Caller, caller, sends_bearer
from hub.responses import (
    ENTRY_NOT_FOUND,
    INVALID_CREDENTIALS,
    REPO_NOT_FOUND,
    REVISION_NOT_FOUND,
    header_text,
    hub_error,
    hub_time,
    repo_not_found,
)
from hub.revisions import (
    LIBRARY,
    HubFile,
    alias_targets,
    card_data,
    find_repository,
    listed_repositories,
    resolve,
    revision_files,
)

View = Callable[..., HttpResponseBase]


def hub_view(view: View) -> View:
    """GET and HEAD only; the caller is read first (a bad token is a 401, or a 429 when throttled)."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method not in ("GET", "HEAD"):
            response = hub_error(request, 405, "The Hub endpoint is read-only.")
            response["Allow"] = "GET, HEAD"
            return response
        try:
            who = caller(request)
        except BadCredentials as exc:
            if exc.wait is not None:
                response = hub_error(request, 429, str(exc))
                response["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
                return response
            return hub_error(request, 401, INVALID_CREDENTIALS)
        return view(request, who, *args, **kwargs)

    return wrapper


def _elsewhere(request: HttpRequest, who: Caller, namespace: str, name: str) -> HttpResponseBase:
    """A repository the caller does not hold: upstream's answer when configured, else RepoNotFound."""
    forwarded = upstream.forward(request)
    if forwarded is not None:
        return forwarded
    return repo_not_found(request, f"{namespace}/{name}", authenticated=who.authenticated)


def _revision_not_found(request: HttpRequest, repo_id: str, revision: str) -> HttpResponse:
    return hub_error(
        request, 404, f"Invalid rev id: {revision} (no such alias or commit in {repo_id})", REVISION_NOT_FOUND
    )


def _revision(
    request: HttpRequest, who: Caller, namespace: str, name: str, revision: str
) -> tuple[Repository, ModelArtifact] | HttpResponseBase:
    """The caller's repository and the revision ``revision`` names in it, or the answer to give
    instead: upstream's or RepoNotFound for a repository not ours, RevisionNotFound for a name
    that is neither an alias nor a commit of it."""
    repository = find_repository(who.user, namespace, name)
    if repository is None:
        return _elsewhere(request, who, namespace, name)
    model = resolve(who.user, repository, revision)
    if model is None:
        return _revision_not_found(request, repository.full_name, revision)
    return repository, model


@hub_view
def whoami(request: HttpRequest, who: Caller) -> HttpResponseBase:
    if not who.authenticated:
        return hub_error(
            request, 401, INVALID_CREDENTIALS if sends_bearer(request) else "Invalid username or password."
        )
    user = who.user
    auth: dict[str, Any] = {"type": "access_token" if who.token is not None else "session"}
    if who.token is not None:
        auth["accessToken"] = {"displayName": who.token.name or who.token.prefix, "role": "read"}
    return JsonResponse(
        {
            "type": "user",
            "id": str(user.pk),
            "name": user.username,
            "fullname": user.get_full_name() or user.username,
            "email": user.email or None,
            "emailVerified": False,
            "isPro": False,
            "orgs": [],
            "auth": auth,
        }
    )


@hub_view
def repo_info(request: HttpRequest, who: Caller, namespace: str, name: str, revision: str = "main") -> HttpResponseBase:
    found = _revision(request, who, namespace, name, revision)
    if isinstance(found, HttpResponseBase):
        return found
    repository, model = found
    blobs = request.GET.get("blobs", "").lower() in ("1", "true")
    siblings: list[dict[str, Any]] = []
    for file in revision_files(model):
        sibling: dict[str, Any] = {"rfilename": file.path}
        if blobs:
            lfs = file.lfs
            sibling.update(
                size=file.size,
                blobId=file.blob_id,
                lfs={"sha256": lfs["oid"], "size": lfs["size"], "pointerSize": lfs["pointerSize"]},
            )
        siblings.append(sibling)
    card = card_data(model)
    return JsonResponse(
        {
            **_repository_fields(repository, model.commit, model.created_at),
            "tags": card["tags"],
            "cardData": {k: v for k, v in card.items() if v is not None},
            "siblings": siblings,
        }
    )


def _repository_fields(repository: Repository, sha: str | None, last_modified: Any) -> dict[str, Any]:
    """What the repository info and the listing both say of a repository at ``sha`` (None: no
    revision ``main`` resolves to), last changed ``last_modified`` (None: no live revision)."""
    return {
        "_id": f"repo-{repository.pk}",
        "id": repository.full_name,
        "modelId": repository.full_name,
        "author": repository.user.username,
        "sha": sha,
        "lastModified": hub_time(last_modified) if last_modified else None,
        "createdAt": hub_time(repository.created_at),
        "private": True,
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "library_name": LIBRARY,
    }


# ``list_models`` sort keys (the client sends ``lastModified``, ``createdAt`` or ``id``) → ours.
LIST_SORTS = {"lastModified": "last_revision_at", "createdAt": "created_at", "id": "name"}
# Narrowing parameters of the Hub's listing that a private store of adapters cannot answer truly.
LIST_UNSUPPORTED = ("filter", "pipeline_tag", "library", "language", "apps", "gated", "inference", "num_parameters")


@hub_view
def model_list(request: HttpRequest, who: Caller) -> HttpResponseBase:
    """The caller's repositories, as ``HfApi.list_models`` reads them: ``id``, ``author``, ``sha``
    (what ``main`` resolves to, or null), ``lastModified`` (the newest live revision) and
    ``createdAt``. ``author`` (someone else's: none here; upstream's answer when configured),
    ``search`` (contained in the id, any case), ``sort`` and ``direction`` (``-1``: descending, the
    default), ``limit`` (per page, at most ``HUB_TREE_PAGE_SIZE``); the next page in ``Link``."""
    author = request.GET.get("author", "")
    if not who.authenticated or (author and author.lower() != who.user.username.lower()):
        forwarded = upstream.forward(request)
        if forwarded is not None:
            return forwarded
        if not who.authenticated:
            return hub_error(
                request, 401, INVALID_CREDENTIALS if sends_bearer(request) else "Invalid username or password."
            )
        return JsonResponse([], safe=False)  # another owner's repositories are never listed here
    search = request.GET.get("search", "")
    if "\x00" in search:
        return hub_error(request, 400, "Invalid search: null characters are not allowed.")
    unsupported = [name for name in LIST_UNSUPPORTED if name in request.GET]
    if unsupported:
        return hub_error(request, 400, f"Unsupported filter: {', '.join(unsupported)} (use author or search).")
    sort = LIST_SORTS.get(request.GET.get("sort") or "lastModified")
    if sort is None:
        return hub_error(request, 400, f"Invalid sort: use one of {', '.join(LIST_SORTS)}.")
    limit_text = request.GET.get("limit") or str(settings.HUB_TREE_PAGE_SIZE)
    offset_text = (_after(request.GET["cursor"]) or "") if "cursor" in request.GET else "0"
    # ASCII digits only; the offset goes into SQL as is, the limit is capped first.
    if not (
        re.fullmatch(r"[0-9]{1,18}", limit_text) and int(limit_text) > 0 and re.fullmatch(r"[0-9]{1,9}", offset_text)
    ):
        return hub_error(request, 400, "Invalid limit or cursor.")
    limit, offset = min(int(limit_text), settings.HUB_TREE_PAGE_SIZE), int(offset_text)
    descending = request.GET.get("direction", "-1") == "-1"
    repositories = listed_repositories(who.user, search, sort, descending)
    page = list(repositories[offset : offset + limit + 1])
    # Annotated by ``listed_repositories``: main's commit and the newest live revision's time.
    listed = [
        _repository_fields(repository, repository.main_commit, repository.last_revision_at)  # type: ignore[attr-defined]
        for repository in page[:limit]
    ]
    response = JsonResponse(listed, safe=False)
    if len(page) > limit:
        query = {k: v for k, v in request.GET.items() if k != "cursor"}
        query["cursor"] = _cursor(str(offset + limit))
        response["Link"] = f'<{request.build_absolute_uri(request.path)}?{urlencode(query)}>; rel="next"'
    return response


@hub_view
def refs(request: HttpRequest, who: Caller, namespace: str, name: str) -> HttpResponseBase:
    """The repository's aliases as the Hub's branches (``main``, ``production`` …), each with the
    commit it resolves to now; an alias whose revision is deleted resolves to nothing and is left
    out. The product has no tags, conversions or pull requests."""
    repository = find_repository(who.user, namespace, name)
    if repository is None:
        return _elsewhere(request, who, namespace, name)
    branches = [
        {"name": alias, "ref": f"refs/heads/{alias}", "targetCommit": commit}
        for alias, commit in alias_targets(who.user, repository)
    ]
    body: dict[str, Any] = {"branches": branches, "converts": [], "tags": []}
    if request.GET.get("include_prs"):
        body["pullRequests"] = []
    return JsonResponse(body)


def _tree_items(files: list[HubFile], path: str, recursive: bool) -> list[dict[str, Any]] | None:
    """The entries under ``path`` (all levels when ``recursive``), sorted; None when ``path`` is
    not a folder of the revision."""
    prefix = f"{path.strip('/')}/" if path.strip("/") else ""
    items: dict[str, dict[str, Any]] = {}
    for file in files:
        if not file.path.startswith(prefix):
            continue
        parts = file.path[len(prefix) :].split("/")
        folders = range(1, len(parts)) if recursive else range(1, min(len(parts), 2))
        for depth in folders:
            folder = prefix + "/".join(parts[:depth])
            oid = hashlib.sha1(f"tree:{folder}".encode(), usedforsecurity=False).hexdigest()
            items.setdefault(folder, {"type": "directory", "oid": oid, "size": 0, "path": folder})
        if recursive or len(parts) == 1:
            items[file.path] = {
                "type": "file",
                "oid": file.blob_id,
                "size": file.size,
                "path": file.path,
                "lfs": file.lfs,
            }
    if prefix and not items:
        return None
    return [items[key] for key in sorted(items)]


def _cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _after(cursor: str) -> str | None:
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


@hub_view
def tree(
    request: HttpRequest, who: Caller, namespace: str, name: str, revision: str, path: str = ""
) -> HttpResponseBase:
    found = _revision(request, who, namespace, name, revision)
    if isinstance(found, HttpResponseBase):
        return found
    repository, model = found
    recursive = request.GET.get("recursive", "").lower() in ("1", "true")
    items = _tree_items(revision_files(model), path or "", recursive)
    if items is None:
        return hub_error(request, 404, f"Entry not found: {path} at {revision}", ENTRY_NOT_FOUND)
    after = _after(request.GET["cursor"]) if "cursor" in request.GET else ""
    if after is None:
        return hub_error(request, 400, "Invalid cursor.")
    remaining = [item for item in items if item["path"] > after] if after else items
    size = settings.HUB_TREE_PAGE_SIZE
    page = remaining[:size]
    response = JsonResponse(page, safe=False)
    if len(remaining) > size:
        query = {k: v for k, v in request.GET.items() if k != "cursor"}
        query["cursor"] = _cursor(page[-1]["path"])
        response["Link"] = f'<{request.build_absolute_uri(request.path)}?{urlencode(query)}>; rel="next"'
    return response


def _file_headers(response: HttpResponseBase, model_commit: str, file: HubFile) -> None:
    response["X-Repo-Commit"] = model_commit
    response["ETag"] = f'"{file.sha256}"'
    response["X-Linked-Etag"] = f'"{file.sha256}"'
    response["X-Linked-Size"] = str(file.size)
    response["Accept-Ranges"] = "bytes"


def _generated_body(request: HttpRequest, file: HubFile) -> HttpResponse:
    content = file.content or b""
    try:
        span = parse_range(request.headers.get("Range", ""), len(content)) if "Range" in request.headers else None
    except RangeNotSatisfiable:
        response = hub_error(request, 416, "Range not satisfiable.")
        response["Content-Range"] = f"bytes */{len(content)}"
        return response
    if span is None:
        response = HttpResponse(content, content_type=file.content_type)
    else:
        first, last = span
        response = HttpResponse(content[first : last + 1], status=206, content_type=file.content_type)
        response["Content-Range"] = f"bytes {first}-{last}/{len(content)}"
    response["Content-Length"] = str(len(response.content))
    return response


@hub_view
def resolve_file(
    request: HttpRequest, who: Caller, namespace: str, name: str, revision: str, path: str
) -> HttpResponseBase:
    found = _revision(request, who, namespace, name, revision)
    if isinstance(found, HttpResponseBase):
        return found
    repository, model = found
    file = next((f for f in revision_files(model) if f.path == path), None)
    if file is None:
        return hub_error(request, 404, f"Entry not found: {path} in {repository.full_name}", ENTRY_NOT_FOUND)
    response: HttpResponseBase
    if request.method == "HEAD":
        response = HttpResponse(content_type=file.content_type)
        response["Content-Length"] = str(file.size)
    elif file.key is None:
        response = _generated_body(request, file)
    else:
        # Our own link, as the API hands out: each request through it checks the model is still
        # live, so a link taken from this redirect stops when the model is deleted, on every backend.
        response = HttpResponseRedirect(download_link(file.key, path.rsplit("/", 1)[-1], url_ttl()))
    _file_headers(response, model.commit, file)
    return response


@hub_view
def elsewhere(request: HttpRequest, who: Caller, rest: str = "") -> HttpResponseBase:
    """Any other Hub path: upstream's answer when configured, else the Hub's 404."""
    forwarded = upstream.forward(request)
    if forwarded is not None:
        return forwarded
    return hub_error(
        request, 404, header_text(f"Not found: /{rest}"), REPO_NOT_FOUND if rest.startswith("api/") else None
    )
