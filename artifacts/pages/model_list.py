"""The models list, ``/models``: sort, filters, pagination and the compare selection.

Every query starts from ``ModelArtifact.objects.visible_to(request.user)``: someone else's or a
deleted model is never listed.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from artifacts.filters import MAX_SEARCH_LENGTH, ModelFilters
from artifacts.health.quality import CONVERGENCE_LABELS
from artifacts.models import ModelArtifact, ModelArtifactQuerySet
from artifacts.services.comparison import MAX_MODELS, MIN_MODELS
from pipeline.lib.api.pagination import PAGE_SIZE, PageSlice
from pipeline.models import Dataset

logger = logging.getLogger(__name__)

CARD_DEFERRED = (
    "description",
    "artifacts",
    "job__hyperparameters",
    "job__gpu_config",
    "job__current_metrics",
)
SORT_LABELS = {"created_at": "Most Recent", "quality": "Highest Quality"}  # names of ModelArtifactQuerySet.SORTS
# What the list says about a query parameter it could not apply (``ModelFilters.read_page_query``).
IGNORED_FILTER_MESSAGES = {
    "sort": "“{value}” is not a way to sort this list; showing the most recent first.",
    "dataset": "That dataset filter does not match any of your datasets; showing every dataset.",
    "min_score": "“{value}” is not a rating from 1 to 5; showing every rating.",
    "convergence": "“{value}” is not a convergence label; showing every label.",
    "q": "The search can be at most {max_length} characters; showing every name.",
    "verdict": "“{value}” is not a verdict (ok, warnings, unusable); showing every verdict.",
}
# The list's verdict filter (DESIGN §14), as the API's ``verdict=`` takes it.
VERDICT_CHOICES = [("ok,warnings", "Usable (hide unusable)"), ("ok", "OK only"), ("unusable", "Unusable only")]
MAX_QUOTED = 40  # a bad parameter value is quoted back at most this long


def _quoted(value: str) -> str:
    return value if len(value) <= MAX_QUOTED else value[:MAX_QUOTED] + "…"


def page_number(raw: str | None, num_pages: int) -> tuple[int, str]:
    """The page to show for ``?page=raw`` and, when it is not the one asked for, why."""
    if raw is None or raw == "":
        return 1, ""
    try:
        number = int(raw)
    except ValueError:
        return 1, f"“{_quoted(raw)}” is not a page number; showing page 1."
    if number < 1:
        return 1, "Pages are numbered from 1; showing page 1."
    if number > num_pages:
        pages = f"{num_pages} page{'s' if num_pages != 1 else ''}"
        return num_pages, f"There is no page {number:,}: the list has {pages}; showing page {num_pages}."
    return number, ""


@login_required
@require_GET
def model_list(request: HttpRequest) -> HttpResponse:
    visible = ModelArtifact.objects.visible_to(request.user)
    # The user's datasets, each probed once through an index, rather than joining every model.
    owner_id: Any = request.user.pk  # login_required: a signed-in user
    with_models = Exists(visible.filter(dataset=OuterRef("pk")))
    datasets = list(Dataset.objects.filter(with_models, user_id=owner_id).order_by("name").values("id", "name"))
    filters, ignored = ModelFilters.read_page_query(request.GET, {str(d["id"]) for d in datasets})
    notices = [
        IGNORED_FILTER_MESSAGES[name].format(value=_quoted(request.GET.get(name, "")), max_length=MAX_SEARCH_LENGTH)
        for name in ignored
        if name in IGNORED_FILTER_MESSAGES
    ]

    models = filters.apply(visible).select_related("dataset", "job").defer(*CARD_DEFERRED)

    owned_total = ModelArtifact.objects.live_count(request.user)
    matching = PageSlice(models, count=filters.count(request.user, models) if filters.active else owned_total)
    paginator = Paginator(cast(Any, matching), PAGE_SIZE)  # a sliceable with count()
    number, page_notice = page_number(request.GET.get("page"), paginator.num_pages)
    page = paginator.page(number)
    if page_notice:
        notices.append(page_notice)
    context = {
        "page": page,
        "models": page.object_list,
        "total": paginator.count,
        "owned_total": owned_total,
        "compare_form": "compare-form" if owned_total >= MIN_MODELS else "",
        "filters": filters,
        "notices": notices,
        "sorts": [(key, SORT_LABELS.get(key, key)) for key in ModelArtifactQuerySet.SORTS],
        "datasets": datasets,
        "convergence_labels": CONVERGENCE_LABELS,
        "verdict_choices": VERDICT_CHOICES,
        "verdict_selected": ",".join(filters.verdicts),
        "star_choices": [(n, f"{n}+ stars" if n < 5 else "5 stars") for n in range(1, 6)],
        "search_max_length": MAX_SEARCH_LENGTH,
        "compare_range": (MIN_MODELS, MAX_MODELS),
        "prev_query": filters.query_string(page.previous_page_number()) if page.has_previous() else "",
        "next_query": filters.query_string(page.next_page_number()) if page.has_next() else "",
    }
    return render(request, "artifacts/model_list.html", context)
