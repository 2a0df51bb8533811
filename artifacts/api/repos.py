"""Repositories API (DESIGN §15): list, detail (revisions, aliases, history), create, rename, and
moving or removing an alias.

``/api/repos/{ns}/{repo}`` names a repository of the signed-in user only: someone else's, like a
missing one, is the same 404. Errors are raised and shaped by the project's exception handler.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from artifacts.api.serializers import TextField
from artifacts.models import Alias, AliasMove, ModelArtifact, Repository
from artifacts.services import registry
from pipeline.lib.api.envelope import ERROR_RESPONSE, envelope, error_responses
from pipeline.lib.api.exceptions import ApiError
from pipeline.lib.api.pagination import EnvelopePagination
from pipeline.lib.api.parsers import JSONParser

REPOSITORY_NOT_FOUND = "Repository not found or access denied"
MODEL_NOT_FOUND = "Model not found or access denied"
DETAIL_LIMIT = 100  # revisions and history entries in one detail answer, newest first
PATH = [
    OpenApiParameter("namespace", OpenApiTypes.STR, OpenApiParameter.PATH, description="Your username"),
    OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="The repository's name"),
]


def find_repository(user: Any, namespace: str, name: str) -> Repository:
    """The user's repository ``namespace/name`` (name in any case), or the one 404."""
    repository = (
        Repository.objects.visible_to(user).filter(user__username=namespace).named(name).select_related("user").first()
    )
    if repository is None:
        raise exceptions.NotFound(REPOSITORY_NOT_FOUND)
    return repository


def repository_summary(repository: Repository, aliases: list[dict[str, Any]]) -> dict[str, Any]:
    """What the list shows of a repository (annotated with ``revision_count``, ``last_revision_at``)."""
    return {
        "id": repository.full_name,
        "name": repository.name,
        "owner": repository.user.username,
        "description": repository.description,
        "main_pinned": repository.main_pinned,
        "revision_count": getattr(repository, "revision_count", 0),
        "last_revision_at": getattr(repository, "last_revision_at", None),
        "aliases": aliases,
        "created_at": repository.created_at,
        "updated_at": repository.updated_at,
    }


def revision_data(model: ModelArtifact, alias_names: list[str]) -> dict[str, Any]:
    return {
        "model": str(model.pk),
        "name": model.name,
        "commit": model.commit,
        "verdict": model.verdict,
        "score": model.quality_score,
        "aliases": alias_names,
        "created_at": model.created_at,
    }


def alias_data(alias: Alias) -> dict[str, Any]:
    return {
        "name": alias.name,
        "model": str(alias.artifact_id),
        "commit": alias.artifact.commit,
        "verdict": alias.artifact.verdict,
        "deleted": alias.artifact.deleted_at is not None,
        "updated_at": alias.updated_at,
        "updated_by": alias.updated_by.username if alias.updated_by else None,
    }


def move_data(move: AliasMove) -> dict[str, Any]:
    return {
        "alias": move.alias,
        "from": {"model": str(move.from_artifact_id), "commit": move.from_commit} if move.from_commit else None,
        "to": {"model": str(move.to_artifact_id), "commit": move.to_commit} if move.to_commit else None,
        "by": move.by.username if move.by else None,
        "at": move.at,
        "forced": move.forced,
        "note": move.note,
    }


def repository_detail(repository: Repository) -> dict[str, Any]:
    aliases = list(
        Alias.objects.filter(repository=repository).select_related("artifact", "updated_by").order_by("name")
    )
    by_model: dict[Any, list[str]] = {}
    for alias in aliases:
        by_model.setdefault(alias.artifact_id, []).append(alias.name)
    revisions = ModelArtifact.objects.alive().filter(repository=repository).order_by("-created_at", "-id")
    moves = AliasMove.objects.filter(repository=repository).select_related("by").order_by("-at", "-id")
    rows = list(revisions.only("id", "name", "commit", "verdict", "quality_score", "created_at")[:DETAIL_LIMIT])
    repository.revision_count = revisions.count() if len(rows) == DETAIL_LIMIT else len(rows)  # type: ignore[attr-defined]
    repository.last_revision_at = rows[0].created_at if rows else None  # type: ignore[attr-defined]
    return {
        **repository_summary(repository, [alias_data(alias) for alias in aliases]),
        "revisions": [revision_data(row, by_model.get(row.pk, [])) for row in rows],
        "history": [move_data(move) for move in moves[:DETAIL_LIMIT]],
    }


class RepositoryPagination(EnvelopePagination):
    results_key = "repositories"


# DESIGN §15's repository name: ``[A-Za-z0-9][A-Za-z0-9._-]{0,95}``, no ``--`` or ``..``, not ending in ``.git``.
NAME_RULE = (
    "A repository name starts with a letter or digit, holds only letters, digits, '.', '_' and '-' "
    "(at most 96), has no '--' or '..' and does not end in '.git'."
)
NAME_PATTERN = r"^(?!.*--)(?!.*\.\.)(?!.*\.[gG][iI][tT]$)[A-Za-z0-9][A-Za-z0-9._-]{0,95}$"


class RepositoryCreateSerializer(serializers.Serializer):
    name = serializers.RegexField(
        NAME_PATTERN,
        error_messages={"invalid": NAME_RULE},
        help_text="`[A-Za-z0-9][A-Za-z0-9._-]{0,95}`, no `--` or `..`, not ending in `.git`.",
    )
    description = TextField(required=False, allow_blank=True, max_length=2000)


class RepositoryRenameSerializer(serializers.Serializer):
    name = serializers.RegexField(
        NAME_PATTERN,
        error_messages={"invalid": NAME_RULE},
        help_text="The new name; the old `ns/repo` stops resolving.",
    )


class AliasMoveSerializer(serializers.Serializer):
    model = serializers.UUIDField(help_text="The revision (a model of this repository) the alias points at.")
    force = serializers.BooleanField(
        required=False, default=False, help_text="Needed to point an alias at an `unusable` revision."
    )
    note = TextField(required=False, allow_blank=True, max_length=200)


def registry_error(exc: registry.RegistryError) -> ApiError:
    if isinstance(exc, registry.UnusableRevision):
        return ApiError(str(exc), {"force": "required"}, status_code=status.HTTP_409_CONFLICT)
    if isinstance(exc, registry.NameTaken):
        return ApiError(str(exc), status_code=status.HTTP_409_CONFLICT)
    if isinstance(exc, registry.AliasNotFound):
        return ApiError(str(exc), status_code=status.HTTP_404_NOT_FOUND)
    return ApiError(str(exc))


class RepositoryListView(APIView):
    parser_classes = [JSONParser]  # bodies are JSON objects; a form is a 415

    @extend_schema(
        summary="List your repositories",
        operation_id="repos_list",
        description="Name order. Each with its live revision count, last revision time and aliases (name → commit).",
        responses={200: OpenApiTypes.OBJECT, **error_responses(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        repositories = (
            Repository.objects.visible_to(request.user)
            .select_related("user")
            .annotate(
                revision_count=Count("revisions", filter=Q(revisions__deleted_at__isnull=True)),
                last_revision_at=Max("revisions__created_at", filter=Q(revisions__deleted_at__isnull=True)),
            )
            .order_by("name", "id")
        )
        paginator = RepositoryPagination()
        page = paginator.paginate_queryset(repositories, request, self)
        aliases: dict[Any, list[dict[str, Any]]] = {}
        rows = Alias.objects.filter(repository__in=[r.pk for r in page]).order_by("name")
        for repository_id, alias, model, commit in rows.values_list(
            "repository_id", "name", "artifact_id", "artifact__commit"
        ):
            aliases.setdefault(repository_id, []).append({"name": alias, "model": str(model), "commit": commit})
        return paginator.get_paginated_response([repository_summary(r, aliases.get(r.pk, [])) for r in page])

    @extend_schema(
        summary="Create an empty repository",
        operation_id="repos_create",
        request=RepositoryCreateSerializer,
        responses={
            201: OpenApiTypes.OBJECT,
            409: OpenApiResponse(ERROR_RESPONSE, description="You already have a repository of that name"),
            **error_responses(400, 401, 403, 413, 415, 429),
        },
    )
    def post(self, request: Request) -> Response:
        body = RepositoryCreateSerializer(data=request.data if isinstance(request.data, dict) else None)
        body.is_valid(raise_exception=True)
        try:
            repository = registry.create_repository(
                request.user, body.validated_data["name"], body.validated_data.get("description", "")
            )
        except registry.RegistryError as exc:
            raise registry_error(exc) from None
        return envelope(repository_detail(repository), status=status.HTTP_201_CREATED)


class RepositoryDetailView(APIView):
    parser_classes = [JSONParser]  # bodies are JSON objects; a form is a 415

    @extend_schema(
        summary="One of your repositories: revisions, aliases and alias history",
        operation_id="repos_retrieve",
        description=(
            f"Revisions (live models, newest first, at most {DETAIL_LIMIT}) with verdict, score and aliases; "
            f"every alias with its revision; the last {DETAIL_LIMIT} alias moves (who, when, from, to)."
        ),
        parameters=PATH,
        responses={200: OpenApiTypes.OBJECT, **error_responses(401, 404, 429)},
    )
    def get(self, request: Request, namespace: str, name: str) -> Response:
        return envelope(repository_detail(find_repository(request.user, namespace, name)))

    @extend_schema(
        summary="Rename one of your repositories",
        operation_id="repos_rename",
        parameters=PATH,
        request=RepositoryRenameSerializer,
        responses={
            200: OpenApiTypes.OBJECT,
            409: OpenApiResponse(ERROR_RESPONSE, description="You already have a repository of that name"),
            **error_responses(400, 401, 403, 404, 413, 415, 429),
        },
    )
    def patch(self, request: Request, namespace: str, name: str) -> Response:
        repository = find_repository(request.user, namespace, name)
        body = RepositoryRenameSerializer(data=request.data if isinstance(request.data, dict) else None)
        body.is_valid(raise_exception=True)
        try:
            registry.rename_repository(request.user, repository, body.validated_data["name"])
        except registry.RegistryError as exc:
            raise registry_error(exc) from None
        return envelope(repository_detail(repository))


class AliasView(APIView):
    parser_classes = [JSONParser]  # bodies are JSON objects; a form is a 415

    @extend_schema(
        summary="Point an alias at a revision",
        operation_id="repos_alias_set",
        description=(
            'Body `{"model": id, "force"?: bool, "note"?: text}`. Moving `main` pins it; an `unusable` revision '
            "answers 409 unless `force` is true. Every move is recorded."
        ),
        parameters=[*PATH, OpenApiParameter("alias", OpenApiTypes.STR, OpenApiParameter.PATH)],
        request=AliasMoveSerializer,
        responses={
            200: OpenApiTypes.OBJECT,
            409: OpenApiResponse(ERROR_RESPONSE, description="An unusable revision without `force`"),
            **error_responses(400, 401, 403, 404, 413, 415, 429),
        },
    )
    def put(self, request: Request, namespace: str, name: str, alias: str) -> Response:
        repository = find_repository(request.user, namespace, name)
        body = AliasMoveSerializer(data=request.data if isinstance(request.data, dict) else None)
        body.is_valid(raise_exception=True)
        model = ModelArtifact.objects.visible_to(request.user).filter(pk=body.validated_data["model"]).first()
        if model is None:
            raise exceptions.NotFound(MODEL_NOT_FOUND)
        try:
            moved = registry.move_alias(
                request.user,
                repository,
                alias,
                model,
                force=body.validated_data["force"],
                note=body.validated_data.get("note", ""),
            )
        except registry.RegistryError as exc:
            raise registry_error(exc) from None
        moved = Alias.objects.select_related("artifact", "updated_by").get(pk=moved.pk)
        return envelope({"repository": repository.full_name, **alias_data(moved)})

    @extend_schema(
        summary="Remove an alias",
        operation_id="repos_alias_remove",
        description="Removing `main` unpins it: it follows the newest usable revision again.",
        parameters=[*PATH, OpenApiParameter("alias", OpenApiTypes.STR, OpenApiParameter.PATH)],
        request=None,
        responses={204: None, **error_responses(401, 403, 404, 429)},
    )
    def delete(self, request: Request, namespace: str, name: str, alias: str) -> Response:
        repository = find_repository(request.user, namespace, name)
        try:
            registry.remove_alias(request.user, repository, alias)
        except registry.RegistryError as exc:
            raise registry_error(exc) from None
        return Response(status=status.HTTP_204_NO_CONTENT)
