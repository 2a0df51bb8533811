"""The models list as a user expects it: search, honest answers to bad parameters, the applied
filters shown as selected, picking models to compare, and a readable bell badge."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_artifact, make_dataset, make_job, make_notification
from tests.page_text import card_names, text

pytestmark = pytest.mark.django_db


def notices(response) -> list[str]:
    html = response.content.decode()
    block = re.search(r'data-testid="list-notice">(.*?)</div>', html, re.S)
    return [html_lib.unescape(n) for n in re.findall(r"<li>(.*?)</li>", block.group(1))] if block else []


def artifact(user, name, age_days=0.0, score=4, dataset=None, convergence="good"):
    return make_artifact(
        user,
        job=make_job(user, dataset=dataset),
        name=name,
        score=score,
        created_at=timezone.now() - timedelta(days=age_days),
        quality_metrics={"overall_score": score, "convergence_quality": convergence},
    )


@pytest.fixture
def fourteen(alice):
    return [artifact(alice, f"Model {i:02d}", age_days=i) for i in range(14)]


def test_page_zero_is_the_first_page_and_says_so(alice_client, fourteen):
    response = alice_client.get("/models?page=0")
    assert response.status_code == 200
    assert card_names(response)[0] == "Model 00"  # the first page, not the last
    assert "Page 1 of 2" in text(response)
    assert notices(response) == ["Pages are numbered from 1; showing page 1."]
    negative = alice_client.get("/models?page=-3")
    assert card_names(negative)[0] == "Model 00" and notices(negative)


def test_junk_and_out_of_range_pages_say_what_is_shown(alice_client, fourteen):
    junk = alice_client.get("/models?page=abc")
    assert card_names(junk)[0] == "Model 00"
    assert notices(junk) == ["“abc” is not a page number; showing page 1."]
    past = alice_client.get("/models?page=99")
    assert card_names(past) == ["Model 12", "Model 13"]
    assert notices(past) == ["There is no page 99: the list has 2 pages; showing page 2."]
    assert notices(alice_client.get("/models?page=2")) == []
    assert notices(alice_client.get("/models")) == []


def test_bad_filters_are_named_not_silently_dropped(alice, alice_client):
    artifact(alice, "Only one")
    response = alice_client.get("/models?sort=evil&min_score=9&convergence=sideways")
    assert card_names(response) == ["Only one"]
    assert notices(response) == [
        "“evil” is not a way to sort this list; showing the most recent first.",
        "“9” is not a rating from 1 to 5; showing every rating.",
        "“sideways” is not a convergence label; showing every label.",
    ]
    html = response.content.decode()
    assert '<option value="created_at" selected>' in html  # the sort actually applied
    stranger = alice_client.get("/models?dataset=1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    assert notices(stranger) == ["That dataset filter does not match any of your datasets; showing every dataset."]


def test_quoted_values_are_escaped_and_short(alice, alice_client):
    artifact(alice, "Only one")
    response = alice_client.get("/models?sort=<b>" + "x" * 300)
    html = response.content.decode()
    assert "<b>xxx" not in html
    (notice,) = notices(response)
    assert notice.startswith("“<b>xxx") and "…”" in notice and len(notice) < 120


def test_search_box_filters_by_name(alice, alice_client):
    artifact(alice, "Legal clauses rank 16")
    artifact(alice, "Support chats")
    artifact(alice, "legal review", age_days=1)
    response = alice_client.get("/models?q=LEGAL")
    assert card_names(response) == ["Legal clauses rank 16", "legal review"]
    html = response.content.decode()
    assert 'type="search" id="f-search" name="q" value="LEGAL"' in html
    assert "3 models total" in text(response) and "2 match these filters" in text(response)
    nothing = alice_client.get("/models?q=zzz")
    assert "No model name contains “zzz”." in html_lib.unescape(text(nothing))


def test_the_applied_filters_are_rendered_selected(alice, alice_client):
    legal = make_dataset(alice, name="Legal")
    code = make_dataset(alice, name="A dataset with a rather long name for the select box")
    artifact(alice, "Legal great", score=5, dataset=legal, convergence="excellent")
    artifact(alice, "Code", score=4, dataset=code)
    response = alice_client.get(f"/models?dataset={legal.pk}&min_score=4&convergence=excellent&sort=quality")
    html = response.content.decode()
    assert card_names(response) == ["Legal great"]
    assert re.search(r'<form class="toolbar"[^>]* autocomplete="off"', html)
    assert f'<option value="{legal.pk}" selected>Legal</option>' in html
    assert f'<option value="{code.pk}">' in html
    assert '<option value="4" selected>4+ stars</option>' in html
    assert '<option value="excellent" selected>Excellent</option>' in html
    assert '<option value="quality" selected>Highest Quality</option>' in html
    assert html.count(" selected>") == 4


def test_cards_offer_a_compare_box_for_a_get_form(alice, alice_client):
    first = artifact(alice, "First")
    second = artifact(alice, "Second", age_days=1)
    html = alice_client.get("/models").content.decode()
    assert '<form id="compare-form" class="compare-bar" method="get" action="/models/compare"' in html
    for m in (first, second):
        assert f'<input type="checkbox" name="ids" value="{m.pk}" form="compare-form" data-compare-box>' in html
    assert "Tick “Compare” on 2 to 4 models" in html_lib.unescape(html)
    # With one model there is nothing to compare it with.
    second.delete()
    assert "compare-form" not in alice_client.get("/models").content.decode()


def test_the_model_count_heads_the_page(alice, alice_client):
    artifact(alice, "One")
    html = alice_client.get("/models").content.decode()
    head = html.split('<header class="page-head">', 1)[1].split("</header>", 1)[0]
    assert 'data-testid="model-count"' in head and "<strong>1</strong> model total" in head


def test_bell_badge_caps_at_nine_plus(alice, alice_client):
    for i in range(9):
        make_notification(alice, title=f"Note {i}")
    assert re.search(r'data-testid="unread-count">9</span>', alice_client.get("/models").content.decode())
    for i in range(3):
        make_notification(alice, title=f"More {i}")
    html = alice_client.get("/models").content.decode()
    assert re.search(r'data-testid="unread-count">9\+</span>', html)
    assert 'aria-label="Notifications, 12 unread"' in html
