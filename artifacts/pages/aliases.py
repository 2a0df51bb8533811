"""Moving aliases and revisions from the pages (DESIGN §15), without JavaScript.

* ``/repos/{ns}/{repo}/aliases/move?alias=A&model=ID``: GET is the confirm step (without ``model``,
  a list of revisions to choose from); POST moves. An ``unusable`` revision needs the extra "force"
  box ticked, as the API needs ``"force": true``.
* ``/repos/{ns}/{repo}/aliases/{alias}/remove``: GET asks, POST removes.
* ``/repos/{ns}/{repo}/main/pin`` and ``/main/unpin`` (POST): ``main`` stays where it is, or follows
  the newest usable revision again.
* ``/models/{id}/repository`` (GET) leads to the model's repository page; ``/models/{id}/move``
  moves a model to another repository of its owner.

All of it through ``artifacts.services.registry``; someone else's repository or model is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from artifacts.health.verdict import UNUSABLE
from artifacts.models import Alias, ModelArtifact, Repository
from artifacts.models.registry import MAIN, alias_name_error
from artifacts.pages.repository import find_repository, repository_url, revisions_of
from artifacts.services import registry

CHOICES_SHOWN = 50  # revisions offered on the "choose a revision" step, newest first


def short(commit: str) -> str:
    return commit[:7]


def _revision(repository: Repository, user: Any, raw: str | None) -> ModelArtifact | None:
    """The live revision ``raw`` (a model id) of ``repository``, or None."""
    try:
        return revisions_of(repository).visible_to(user).filter(pk=raw).first() if raw else None
    except ValidationError:  # not a model id
        return None


@login_required
@require_http_methods(["GET", "POST"])
def alias_move(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    repository = find_repository(request.user, namespace, name)
    data = request.POST if request.method == "POST" else request.GET
    alias = data.get("alias", "").strip()
    context: dict[str, Any] = {"repository": repository, "alias": alias}
    error = alias_name_error(alias)
    if error:
        context["error"] = error
        return render(request, "artifacts/repo_alias_move.html", context, status=400)
    current = Alias.objects.select_related("artifact").filter(repository=repository, name=alias).first()
    target = _revision(repository, request.user, data.get("model"))
    context.update(current=current, target=target, is_main=alias == MAIN, main_pinned=repository.main_pinned)
    if target is None:
        if data.get("model"):
            context["error"] = f"That model is not a revision of {repository.full_name}."
        context.update(choosing=True, choices=list(revisions_of(repository)[:CHOICES_SHOWN]))
        status = 400 if request.method == "POST" or data.get("model") else 200
        return render(request, "artifacts/repo_alias_move.html", context, status=status)
    context["unusable"] = target.verdict == UNUSABLE
    if request.method == "GET":
        return render(request, "artifacts/repo_alias_move.html", context)
    force = data.get("force") == "1"
    try:
        registry.move_alias(request.user, repository, alias, target, force=force)
    except registry.UnusableRevision:
        context["error"] = (
            f"{target.name} is unusable as delivered. Tick the box to point {alias} at it anyway, or choose "
            "another revision."
        )
        return render(request, "artifacts/repo_alias_move.html", context, status=409)
    except registry.RegistryError as exc:
        context["error"] = str(exc)
        return render(request, "artifacts/repo_alias_move.html", context, status=400)
    pinned = " main is pinned there: it no longer follows new revisions until you unpin it." if alias == MAIN else ""
    messages.success(request, f"{alias} now points at {target.name} ({short(target.commit)}).{pinned}")
    return redirect(repository_url(repository))


@login_required
@require_http_methods(["GET", "POST"])
def alias_remove(request: HttpRequest, namespace: str, name: str, alias: str) -> HttpResponse:
    repository = find_repository(request.user, namespace, name)
    if alias == MAIN:  # main is unpinned, never removed
        return redirect(repository_url(repository))
    current = Alias.objects.select_related("artifact").filter(repository=repository, name=alias).first()
    if current is None:
        raise Http404("No such alias.")
    if request.method == "GET":
        return render(request, "artifacts/repo_alias_remove.html", {"repository": repository, "alias": current})
    try:
        registry.remove_alias(request.user, repository, alias)
    except registry.AliasNotFound:
        raise Http404("No such alias.") from None
    messages.success(request, f"Removed the alias {alias} from {repository.full_name}.")
    return redirect(repository_url(repository))


@login_required
@require_POST
def main_pin(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    """Keep ``main`` on the revision it points at now (moving it there pins it)."""
    repository = find_repository(request.user, namespace, name)
    current = Alias.objects.select_related("artifact").filter(repository=repository, name=MAIN).first()
    if current is None:
        messages.error(request, f"{repository.full_name} has no main to pin yet.")
        return redirect(repository_url(repository))
    try:
        registry.move_alias(request.user, repository, MAIN, current.artifact, force=True)
    except registry.RegistryError as exc:
        messages.error(request, str(exc))
        return redirect(repository_url(repository))
    messages.success(request, f"main is pinned to {current.artifact.name} ({short(current.artifact.commit)}).")
    return redirect(repository_url(repository))


@login_required
@require_POST
def main_unpin(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    """``main`` follows the newest usable revision again."""
    repository = find_repository(request.user, namespace, name)
    try:
        registry.remove_alias(request.user, repository, MAIN)
    except registry.AliasNotFound:
        messages.info(request, "main already follows the newest usable revision.")
        return redirect(repository_url(repository))
    now = Alias.objects.select_related("artifact").filter(repository=repository, name=MAIN).first()
    where = f"it points at {now.artifact.name} ({short(now.artifact.commit)})" if now else "there is no usable revision"
    messages.success(request, f"main follows the newest usable revision again: {where}.")
    return redirect(repository_url(repository))


@login_required
@require_GET
def model_repository(request: HttpRequest, pk: Any) -> HttpResponse:
    """The repository page of a model (the list card links here: it knows the model, not the name)."""
    artifact = get_object_or_404(ModelArtifact.objects.visible_to(request.user).select_related("repository"), pk=pk)
    artifact.repository.user = request.user  # type: ignore[assignment]  # visible_to: the owner is the user
    return redirect(repository_url(artifact.repository))


@login_required
@require_http_methods(["GET", "POST"])
def model_move(request: HttpRequest, pk: Any) -> HttpResponse:
    """Make a model a revision of another of its owner's repositories."""
    artifact = get_object_or_404(
        ModelArtifact.objects.visible_to(request.user).select_related("repository__user"), pk=pk
    )
    choices = list(Repository.objects.visible_to(request.user).select_related("user").order_by("name"))
    context: dict[str, Any] = {"artifact": artifact, "choices": choices, "source": artifact.repository}
    if request.method == "GET":
        return render(request, "artifacts/repo_model_move.html", context)
    raw = request.POST.get("repository", "")
    target = next((r for r in choices if str(r.pk) == raw), None)
    if target is None:
        context["error"] = "Choose one of your repositories."
        return render(request, "artifacts/repo_model_move.html", context, status=400)
    source = artifact.repository
    dropped = [a.name for a in Alias.objects.filter(repository=source, artifact=artifact)]
    registry.move_artifact(request.user, artifact, target)
    if target.pk != source.pk:
        removed = f" Removed from {source.full_name}: {', '.join(dropped)}." if dropped else ""
        messages.success(request, f"{artifact.name} is now a revision of {target.full_name}.{removed}")
    return redirect(repository_url(target))
