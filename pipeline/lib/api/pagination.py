"""Page/limit pagination in the seed's shape.

``{"success": true, "data": {"<items>": [...], "pagination": {"page", "limit", "total",
"totalPages"}}}``. A page past the last one is an empty list with the real totals, not a 404, so
a client paging until the list is empty never sees an error. ``PAGE_SIZE`` is the one page size of
the project: the API's default ``limit`` and the pages' fixed size.

A page costs the same at any depth (:func:`page_rows`): its primary keys are picked first by a
narrow query the database answers from the ordering's index alone, then only those rows are read.
Past the middle the keys are picked from the other end, in reverse order, so no page skips more
than half the list.
"""

from __future__ import annotations

import math
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

PAGE_SIZE = 12
MAX_LIMIT = 100


def page_rows(queryset: QuerySet[Any], offset: int, limit: int, total: int) -> list[Any]:
    """Rows ``offset`` to ``offset + limit`` of the ordered ``queryset`` of ``total`` rows, in one query.

    ``SELECT ... WHERE pk IN (SELECT pk ... ORDER BY ... LIMIT ... OFFSET ...) ORDER BY ...``: the
    inner query walks only the ordering's index (an index-only scan when the index holds the
    ordering's columns and the primary key), so skipping rows never reads them; past the middle it
    walks from the far end. ``queryset`` must be ordered, ending in a unique column, as the
    models list's orderings are.
    """
    if offset >= total or limit <= 0:
        return []
    keys = queryset.values("pk")
    from_end = total - offset - limit
    if from_end < offset:  # nearer the far end: walk the index backwards
        return list(queryset.filter(pk__in=keys.reverse()[max(from_end, 0) : total - offset]))
    return list(queryset.filter(pk__in=keys[offset : offset + limit]))


class PageSlice:
    """An ordered queryset whose slices go through :func:`page_rows` (for Django's ``Paginator``).

    Its ``count()`` is taken once (or given, when the caller knows it): the paginator and the page share it.
    """

    ordered = True

    def __init__(self, queryset: QuerySet[Any], count: int | None = None):
        self.queryset = queryset
        self._count = count

    def count(self) -> int:
        if self._count is None:
            self._count = self.queryset.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list[Any]:
        if not isinstance(index, slice) or index.step is not None or index.stop is None:
            raise TypeError("PageSlice takes only [start:stop] slices")
        start = index.start or 0
        return page_rows(self.queryset, start, index.stop - start, self.count())


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1)
    limit = serializers.IntegerField(required=False, default=PAGE_SIZE, min_value=1, max_value=MAX_LIMIT)


def validated_query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Validate query parameters; a bad one raises a 400 naming it.

    An empty value (``sort=``) is a bad value, not an omitted one (DRF's form reading): the schema
    says what each parameter may be, and ``""`` is none of those.
    """
    serializer = serializer_class(data=request.query_params)
    blank = {
        name: ["This field may not be blank."]
        for name, field in serializer.fields.items()
        if request.query_params.get(name) == "" and not getattr(field, "allow_blank", False)
    }
    if not serializer.is_valid() or blank:
        raise serializers.ValidationError({**serializer.errors, **blank})
    return dict(serializer.validated_data)


class EnvelopePagination(BasePagination):
    """Validates ``page`` and ``limit`` itself (a bad one is a 400 naming it).

    Subclasses name the list: ``results_key = "models"``.
    """

    results_key = "results"

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        params = validated_query(PageQuerySerializer, request)
        self.page: int = params["page"]
        self.limit: int = params["limit"]
        self.total: int = self.count(queryset, request, view)
        return page_rows(queryset, (self.page - 1) * self.limit, self.limit, self.total)

    def count(self, queryset: Any, request: Request, view: Any = None) -> int:
        """The list's exact length; a subclass may know it without counting."""
        return int(queryset.count())

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "success": True,
                "data": {
                    self.results_key: data,
                    "pagination": {
                        "page": self.page,
                        "limit": self.limit,
                        "total": self.total,
                        "totalPages": math.ceil(self.total / self.limit),
                    },
                },
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["success", "data"],
            "properties": {
                "success": {"type": "boolean", "example": True},
                "data": {
                    "type": "object",
                    "properties": {
                        self.results_key: schema,
                        "pagination": {
                            "type": "object",
                            "properties": {
                                "page": {"type": "integer", "example": 1},
                                "limit": {"type": "integer", "example": PAGE_SIZE},
                                "total": {"type": "integer", "example": 30},
                                "totalPages": {"type": "integer", "example": 3},
                            },
                        },
                    },
                },
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": "Items per page.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": PAGE_SIZE},
            },
        ]
