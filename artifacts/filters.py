"""The models list's filters, defined once for the page (``/models``) and the API (``/api/models``).

Both read the same parameters with the same rules: ``sort``, ``dataset``, ``min_score``,
``convergence``, ``verdict``, ``repository``, ``alias`` and ``q``. They differ only in what a bad
value does: the API answers 400 naming the parameter (:class:`ModelListFilter` validated with
``raise_exception``), the page ignores it and shows the list unfiltered by it
(:meth:`ModelFilters.from_page_query`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from django.core.validators import RegexValidator
from django.http import QueryDict
from rest_framework import serializers

from artifacts.health.quality import CONVERGENCE_LABELS
from artifacts.models import ArtifactFacetCount, ArtifactSearchName, ModelArtifact, ModelArtifactQuerySet
from artifacts.models.artifact import search_name_contains
from artifacts.models.registry import ALIAS_NAME_MAX_LENGTH

SORTS = tuple(ModelArtifactQuerySet.SORTS)
DEFAULT_SORT = "created_at"
MIN_SCORE, MAX_SCORE = 1, 5
MAX_SEARCH_LENGTH = 200
VERDICT_LIST = r"^(ok|warnings|unusable)(,(ok|warnings|unusable))*$"
# ``ns/repo`` or ``repo`` (DESIGN §15's repository name; the namespace is a username).
REPOSITORY_ID = r"^([^/\x00]{1,150}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$"
ALIAS_NAME = r"^[a-z0-9][a-z0-9._-]{0,62}$"


class ModelListFilter(serializers.Serializer):
    sort = serializers.ChoiceField(choices=SORTS, required=False, default=DEFAULT_SORT)
    dataset = serializers.UUIDField(required=False, help_text="Only models trained on this dataset.")
    min_score = serializers.IntegerField(
        required=False,
        min_value=MIN_SCORE,
        max_value=MAX_SCORE,
        help_text="Only models scoring at least this (1–5).",
    )
    convergence = serializers.ChoiceField(
        choices=CONVERGENCE_LABELS, required=False, help_text="Only models with this convergence label."
    )
    verdict = serializers.RegexField(
        VERDICT_LIST,
        required=False,
        help_text="Only models with one of these verdicts (DESIGN §14), comma-separated: "
        "`ok`, `warnings`, `unusable` (e.g. `verdict=ok,warnings` leaves unusable models out).",
    )
    repository = serializers.RegexField(
        REPOSITORY_ID,
        required=False,
        help_text="Only revisions of this repository: `ns/repo` or `repo` (case-insensitive).",
    )
    alias = serializers.RegexField(
        ALIAS_NAME,
        max_length=ALIAS_NAME_MAX_LENGTH,
        required=False,
        help_text="Only models an alias of this name points at (e.g. `production`), one per repository.",
    )
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MAX_SEARCH_LENGTH,
        # DRF refuses NUL in every CharField; saying so gives the schema the same rule (``pattern``).
        validators=[RegexValidator(r"^[^\x00]+$", "Null characters are not allowed.")],
        help_text="Name contains (case-insensitive).",
    )


FILTER_NAMES = ("dataset", "min_score", "convergence", "q", "verdicts", "repository", "alias")


def facet_total(user: Any, facet: str, counted: Callable[[str], bool]) -> int:
    """The user's live models whose ``facet`` value is one ``counted`` keeps, from the facet counts."""
    rows = ArtifactFacetCount.objects.filter(user_id=user.pk, facet=facet).values_list("value", "live")
    return sum(live for value, live in rows if counted(value))


@dataclass(frozen=True)
class ModelFilters:
    """Validated filter values; empty values filter nothing."""

    sort: str = DEFAULT_SORT
    dataset: str = ""
    min_score: int = 0
    convergence: str = ""
    q: str = ""
    verdicts: tuple[str, ...] = ()
    repository: str = ""
    alias: str = ""

    @classmethod
    def from_validated(cls, data: Mapping[str, Any]) -> ModelFilters:
        """From :class:`ModelListFilter`'s (or a subclass's) ``validated_data``."""
        dataset = data.get("dataset")
        return cls(
            sort=data.get("sort") or DEFAULT_SORT,
            dataset=str(dataset) if dataset else "",
            min_score=data.get("min_score") or 0,
            convergence=data.get("convergence") or "",
            q=data.get("q") or "",
            verdicts=tuple(dict.fromkeys(data["verdict"].split(","))) if data.get("verdict") else (),
            repository=data.get("repository") or "",
            alias=data.get("alias") or "",
        )

    @classmethod
    def from_page_query(cls, query: QueryDict, dataset_ids: Collection[str]) -> ModelFilters:
        """The page's reading: a bad value, or a dataset not in ``dataset_ids``, filters nothing."""
        return cls.read_page_query(query, dataset_ids)[0]

    @classmethod
    def read_page_query(cls, query: QueryDict, dataset_ids: Collection[str]) -> tuple[ModelFilters, list[str]]:
        """:meth:`from_page_query` plus the names of the parameters it ignored, so the page can
        say which of them it did not apply."""
        ignored: list[str] = []
        serializer = ModelListFilter(data=query)
        if not serializer.is_valid():
            ignored = [name for name in serializer.errors if name in serializer.fields]
            valid = query.copy()  # a QueryDict, so an empty value still means "not given"
            for name in serializer.errors:
                valid.pop(name, None)
            serializer = ModelListFilter(data=valid)
            if not serializer.is_valid():  # each field is checked on its own, so this is not expected
                return cls(), ignored
        filters = cls.from_validated(serializer.validated_data)
        if filters.dataset and filters.dataset not in dataset_ids:
            filters = replace(filters, dataset="")
            ignored.append("dataset")
        return filters, ignored

    @property
    def active(self) -> bool:
        """Whether anything narrows the list (sorting does not)."""
        return any(getattr(self, name) for name in FILTER_NAMES)

    def count(self, user: Any, filtered: ModelArtifactQuerySet) -> int:
        """How many models ``filtered`` (these filters applied to ``user``'s live models) holds,
        exactly. Nothing filtered: the live count; one score, verdict or convergence filter alone:
        the per-user facet counts (migration 0014's triggers); a name search alone: the narrow
        table of live names (migration 0015's triggers); anything else is counted."""
        given = {name for name in FILTER_NAMES if getattr(self, name)}
        if not given:
            return ModelArtifact.objects.live_count(user)
        if given == {"min_score"}:
            return facet_total(user, ArtifactFacetCount.SCORE, lambda v: v.isdigit() and int(v) >= self.min_score)
        if given == {"verdicts"}:
            return facet_total(user, ArtifactFacetCount.VERDICT, lambda v: v in self.verdicts)
        if given == {"convergence"}:
            return facet_total(user, ArtifactFacetCount.CONVERGENCE, lambda v: v == self.convergence)
        if given == {"q"}:
            return ArtifactSearchName.objects.filter(search_name_contains(self.q), user_id=user.pk).count()
        return filtered.count()

    def apply(self, queryset: ModelArtifactQuerySet) -> ModelArtifactQuerySet:
        return queryset.browse(
            sort=self.sort,
            dataset=self.dataset,
            min_score=self.min_score,
            convergence=self.convergence,
            q=self.q,
            verdicts=self.verdicts,
            repository=self.repository,
            alias=self.alias,
        )

    def query_string(self, page: int | None = None) -> str:
        """These filters (and ``page`` past the first) as a URL query, for links that keep them."""
        params: dict[str, Any] = {"sort": self.sort}
        if self.dataset:
            params["dataset"] = self.dataset
        if self.min_score:
            params["min_score"] = self.min_score
        if self.convergence:
            params["convergence"] = self.convergence
        if self.q:
            params["q"] = self.q
        if self.verdicts:
            params["verdict"] = ",".join(self.verdicts)
        if self.repository:
            params["repository"] = self.repository
        if self.alias:
            params["alias"] = self.alias
        if page and page > 1:
            params["page"] = page
        return urlencode(params)
