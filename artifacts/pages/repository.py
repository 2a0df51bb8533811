"""Repository pages (DESIGN §15): the list of your repositories, one repository with its revisions,
aliases, alias history and copy-paste snippets for pulling it by name, creating and renaming one.

Every lookup starts from ``Repository.objects.visible_to(request.user)``: someone else's repository,
like a missing one, is a 404, so a page never reveals that it exists. Changes go through
``artifacts.services.registry``, the same functions the API calls. Alias moves live in
``artifacts.pages.aliases``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from artifacts.health.verdict import UNUSABLE
from artifacts.inspection.serving import hub_commands, hub_endpoint
from artifacts.models import Alias, AliasMove, ModelArtifact, Repository
from artifacts.models.registry import MAIN, REPOSITORY_NAME_MAX_LENGTH
from artifacts.pages.model_detail import adapter_base_model, hf_repo_id
from artifacts.services import registry

REPOSITORIES_PER_PAGE = 20
REVISIONS_PER_PAGE = 20
HISTORY_SHOWN = 50
PREFERRED_ALIASES = ("production", MAIN)  # the alias the snippets show unless another is asked for
SUGGESTED_ALIASES = ("production", "staging", MAIN)


def find_repository(user: Any, namespace: str, name: str) -> Repository:
    """The user's repository ``namespace/name`` (name in any case), or 404."""
    repository = (
        Repository.objects.visible_to(user).filter(user__username=namespace).named(name).select_related("user").first()
    )
    if repository is None:
        raise Http404("No such repository.")
    return repository


def repository_url(repository: Repository, **query: str) -> str:
    url = reverse("repos:detail", args=[repository.user.username, repository.name])
    return f"{url}?{urlencode(query)}" if query else url


def revisions_of(repository: Repository) -> Any:
    return ModelArtifact.objects.alive().filter(repository=repository).order_by("-created_at", "-id")


def site_url(request: HttpRequest) -> str:
    """The product's address as the user reached it (no trailing slash)."""
    return request.build_absolute_uri("/").rstrip("/")


def snippet_alias(aliases: list[Alias], wanted: str | None) -> Alias | None:
    """The alias the snippets use: the one asked for, else ``production``, else ``main``, else the first."""
    by_name = {alias.name: alias for alias in aliases}
    for name in (wanted, *PREFERRED_ALIASES):
        if name and name in by_name:
            return by_name[name]
    return aliases[0] if aliases else None


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def snippets(request: HttpRequest, repository: Repository, alias: Alias, main: Alias | None) -> dict[str, Any]:
    """What the "Pull it by name" card shows for ``alias``: the commands, or nothing but the reasons
    when its revision is unusable (DESIGN §14: no load snippet for it)."""
    artifact = alias.artifact
    context: dict[str, Any] = {"alias": alias, "artifact": artifact, "unusable": artifact.verdict == UNUSABLE}
    if context["unusable"]:
        return context
    inspection = mapping(artifact.inspection)
    adapter = mapping(inspection.get("adapter"))
    base = hf_repo_id(adapter.get("base_model")) or adapter_base_model(artifact, list(artifact.files.all()))
    rank = adapter.get("r") if isinstance(adapter.get("r"), int) else None
    commands = hub_commands(
        site=site_url(request),
        repo_id=repository.full_name,
        revision=alias.name,
        base=base,
        task_type=adapter.get("task_type") if isinstance(adapter.get("task_type"), str) else None,
        rank=rank,
    )
    serving = mapping(inspection.get("serving"))

    def blocked(engine: str) -> list[str]:
        """The reasons the inspection gave for ``engine`` not loading this revision (empty: it can)."""
        state = serving.get(engine)
        if not isinstance(state, dict) or state.get("ready") is not False:
            return []
        return [str(reason) for reason in state.get("reasons") or [] if reason] or ["The inspection says it cannot."]

    context.update(
        {
            "commands": commands,
            "endpoint": hub_endpoint(site_url(request)),
            "base_model": base,
            "peft_blocked": blocked("peft"),
            "vllm_blocked": blocked("vllm"),
            "lorax_blocked": blocked("lorax"),
            "main": main,
        }
    )
    return context


# --- pages ---------------------------------------------------------------------------------------
@login_required
@require_GET
def repository_list(request: HttpRequest) -> HttpResponse:
    repositories = (
        Repository.objects.visible_to(request.user)
        .select_related("user")
        .annotate(
            revision_count=Count("revisions", filter=Q(revisions__deleted_at__isnull=True)),
            last_revision_at=Max("revisions__created_at", filter=Q(revisions__deleted_at__isnull=True)),
        )
        .order_by("name", "id")
    )
    page = Paginator(repositories, REPOSITORIES_PER_PAGE).get_page(request.GET.get("page"))
    aliases: dict[Any, list[tuple[str, str]]] = {}
    rows = Alias.objects.filter(repository__in=[r.pk for r in page]).order_by("name")
    for repository_id, name, commit in rows.values_list("repository_id", "name", "artifact__commit"):
        aliases.setdefault(repository_id, []).append((name, commit))
    for repository in page:
        repository.alias_list = aliases.get(repository.pk, [])  # type: ignore[attr-defined]
    context = {"page": page, "repositories": page.object_list, "name_max_length": REPOSITORY_NAME_MAX_LENGTH}
    return render(request, "artifacts/repo_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def repository_create(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"name_max_length": REPOSITORY_NAME_MAX_LENGTH, "name": "", "description": ""}
    if request.method == "GET":
        return render(request, "artifacts/repo_form.html", context)
    name = request.POST.get("name", "").strip()
    description = request.POST.get("description", "").strip()[:2000]
    context.update(name=name, description=description)
    try:
        repository = registry.create_repository(request.user, name, description)
    except registry.RegistryError as exc:
        context["error"] = str(exc)
        return render(request, "artifacts/repo_form.html", context, status=400)
    messages.success(request, f"Created {request.user.get_username()}/{repository.name}.")
    return redirect(repository_url(repository))


@login_required
@require_GET
def repository_detail(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    repository = find_repository(request.user, namespace, name)
    aliases = list(
        Alias.objects.filter(repository=repository).select_related("artifact", "updated_by").order_by("name")
    )
    by_model: dict[Any, list[str]] = {}
    for alias in aliases:
        by_model.setdefault(alias.artifact_id, []).append(alias.name)
    page = Paginator(revisions_of(repository), REVISIONS_PER_PAGE).get_page(request.GET.get("page"))
    for revision in page:
        revision.alias_names = by_model.get(revision.pk, [])  # type: ignore[attr-defined]
    history = list(
        AliasMove.objects.filter(repository=repository)
        .select_related("by", "from_artifact", "to_artifact")
        .order_by("-at", "-id")[:HISTORY_SHOWN]
    )
    main = next((alias for alias in aliases if alias.name == MAIN), None)
    shown = snippet_alias(aliases, request.GET.get("alias"))
    context = {
        "repository": repository,
        "aliases": aliases,
        "main": main,
        "page": page,
        "revisions": page.object_list,
        "history": history,
        "history_limit": HISTORY_SHOWN,
        "suggested_aliases": sorted({*SUGGESTED_ALIASES, *(alias.name for alias in aliases)}),
        "snippet": snippets(request, repository, shown, main) if shown is not None else None,
    }
    return render(request, "artifacts/repo_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def repository_rename(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    repository = find_repository(request.user, namespace, name)
    context: dict[str, Any] = {
        "repository": repository,
        "name": repository.name,
        "name_max_length": REPOSITORY_NAME_MAX_LENGTH,
    }
    if request.method == "GET":
        return render(request, "artifacts/repo_rename.html", context)
    new_name = request.POST.get("name", "").strip()
    old_id = repository.full_name
    try:
        registry.rename_repository(request.user, repository, new_name)
    except Repository.DoesNotExist:
        raise Http404("No such repository.") from None
    except registry.RegistryError as exc:
        context.update(name=new_name, error=str(exc))
        return render(request, "artifacts/repo_rename.html", context, status=400)
    messages.success(request, f"Renamed {old_id} to {repository.full_name}; the old name no longer resolves.")
    return redirect(repository_url(repository))
