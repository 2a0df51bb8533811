"""The models list's one filter definition, read strictly by the API and leniently by the page."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from artifacts.api.serializers import ModelListQuerySerializer
from artifacts.filters import ModelFilters, ModelListFilter
from pipeline.lib.api.pagination import PAGE_SIZE, PageQuerySerializer

DATASET = "6d2b0c4e-1f7a-4e55-8b1e-0a9c3f5d7e21"


def page_filters(query: str, dataset_ids=(DATASET,)) -> ModelFilters:
    return ModelFilters.from_page_query(QueryDict(query), set(dataset_ids))


def test_the_api_validates_exactly_the_page_filters_plus_paging():
    assert set(ModelListQuerySerializer().fields) == set(ModelListFilter().fields) | set(PageQuerySerializer().fields)
    assert set(ModelListFilter().fields) == {
        "sort",
        "dataset",
        "min_score",
        "convergence",
        "verdict",
        "repository",
        "alias",
        "q",
    }
    assert PageQuerySerializer().fields["limit"].default == PAGE_SIZE == 12


def test_the_page_reads_every_filter_with_the_api_names():
    filters = page_filters(f"sort=quality&dataset={DATASET}&min_score=4&convergence=overfitting+detected&q=chat")
    assert filters == ModelFilters(
        sort="quality", dataset=DATASET, min_score=4, convergence="overfitting detected", q="chat"
    )
    assert filters.active
    assert QueryDict(filters.query_string(page=3)).dict() == {
        "sort": "quality",
        "dataset": DATASET,
        "min_score": "4",
        "convergence": "overfitting detected",
        "q": "chat",
        "page": "3",
    }


@pytest.mark.parametrize(
    "query",
    [
        "sort=bogus",
        "min_score=0",
        "min_score=6",
        "min_score=high",
        "min_score=",
        "min_score=99999999999999999999999",
        "q=a%00b",
        "dataset=%00",
        "convergence=great",
        "dataset=not-a-uuid",
        "dataset=0b8e5f0c-7a51-4d36-9f2e-64c1d3a8b297",  # a valid id, but not one of the user's datasets
        "q=" + "x" * 201,
    ],
)
def test_the_page_ignores_a_bad_value_and_keeps_the_good_ones(query):
    filters = page_filters(f"{query}&convergence=poor")
    assert filters == ModelFilters(convergence="poor")


def test_no_filters_is_the_default_list():
    filters = page_filters("")
    assert filters == ModelFilters()
    assert not filters.active
    assert filters.query_string() == "sort=created_at"


def test_the_page_reads_the_verdict_filter_as_the_api_does():
    filters = page_filters("verdict=ok,warnings,ok")
    assert filters.verdicts == ("ok", "warnings") and filters.active
    assert QueryDict(filters.query_string()).dict()["verdict"] == "ok,warnings"
    assert page_filters("verdict=fine").verdicts == ()  # the page ignores a bad value
