"""Compare 2-4 models: ``/models/compare`` and ``GET /api/models/compare`` (selection rules,
isolation, the "only differences" toggle, curves, health and adapter side by side)."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.test import Client

from artifacts.models import ModelArtifact
from artifacts.services.comparison import MAX_SERIES_POINTS
from tests.conftest import NOT_FOUND
from tests.factories import add_history, make_artifact, make_dataset, make_job
from tests.page_text import text

pytestmark = pytest.mark.django_db

HEALTH = {
    "summary": "Validation loss rose after step 20.",
    "best_step": 20,
    "best_validation_loss": 0.9,
    "smoothed_final_training_loss": 0.5,
    "smoothed_final_validation_loss": 1.1,
    "checks": [
        {"code": "diverged", "status": "pass", "message": "No NaN or infinite loss."},
        {"code": "overfitting", "status": "warn", "message": "Validation loss rose from step 20."},
    ],
}
ADAPTER = {"format": "safetensors", "peft_type": "LORA", "r": 16, "lora_alpha": 32, "size": 2_097_152}


def model(user, name, lr=0.0002, batch=8, history=None, **extra):
    dataset = make_dataset(user, name=f"{name} data")
    hyper = {"learning_rate": lr, "batch_size": batch, "epochs": 3, "rank": 16}
    job = make_job(user, dataset=dataset, hyperparameters=hyper)
    add_history(job, history if history is not None else [(2.0, 2.1), (1.4, None), (1.0, 1.2), (0.8, 1.0)])
    return make_artifact(user, job=job, name=name, **extra)


@pytest.fixture
def pair(alice):
    first = model(alice, "Run one", lr=0.0002, training_health=HEALTH, inspection={"verdict": "ok", "adapter": ADAPTER})
    second = model(alice, "Run two", lr=0.001, history=[(2.5, 2.6), (1.0, 1.5), (0.4, 1.9)])
    return first, second


def ids(*models) -> str:
    return ",".join(str(m.pk) for m in models)


# --- Selection rules and isolation ------------------------------------------------------------------
def test_someone_elses_or_an_unknown_model_is_not_found(alice, alice_client, pair, bob):
    bobs = model(bob, "Bob's run")
    for other in (str(bobs.pk), str(uuid.uuid4())):
        query = f"ids={pair[0].pk},{other}"
        api = alice_client.get(f"/api/models/compare?{query}")
        assert api.status_code == 404 and api.json() == NOT_FOUND
        page = alice_client.get(f"/models/compare?{query}")
        assert page.status_code == 404
        assert "Page not found" in text(page) and "Bob&#x27;s run" not in page.content.decode()
    deleted = model(alice, "Deleted")
    ModelArtifact.objects.filter(pk=deleted.pk).update(deleted_at="2026-01-01T00:00:00Z")
    assert alice_client.get(f"/api/models/compare?ids={ids(pair[0], deleted)}").status_code == 404


def test_compare_needs_a_login(pair):
    assert Client().get(f"/api/models/compare?ids={ids(*pair)}").status_code == 401
    response = Client().get(f"/models/compare?ids={ids(*pair)}")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Choose 2 to 4 models to compare."),
        ("ids=", "Choose 2 to 4 models to compare."),
        ("ids={a}", "Choose at least 2 models to compare (you chose 1)."),
        ("ids={a},{a}", "is chosen more than once"),
        ("ids={a},not-an-id", "“not-an-id” is not a model id."),
        ("ids={a},{b},{r1},{r2},{r3}", "Compare at most 4 models at a time (you chose 5)."),
    ],
)
def test_bad_selections_are_400_with_a_clear_message(alice_client, pair, query, message):
    query = query.format(a=pair[0].pk, b=pair[1].pk, r1=uuid.uuid4(), r2=uuid.uuid4(), r3=uuid.uuid4())
    api = alice_client.get(f"/api/models/compare?{query}")
    assert api.status_code == 400
    body = api.json()
    assert message in body["error"] and message in body["details"]["ids"][0]
    page = alice_client.get(f"/models/compare?{query}")
    assert page.status_code == 400
    assert message in html_text(page)
    assert 'href="/models"' in page.content.decode()


def html_text(response) -> str:
    import html

    return html.unescape(text(response))


def test_a_huge_malformed_id_is_quoted_short(alice_client, pair):
    body = alice_client.get(f"/api/models/compare?ids={pair[0].pk},{'x' * 5000}").json()
    assert body["error"].endswith("…” is not a model id.") and len(body["error"]) < 120


def test_the_api_route_is_not_taken_for_a_model_id(alice_client, pair):
    """``models/compare`` is registered before ``models/{pk}``; the detail route still works."""
    assert alice_client.get(f"/api/models/{pair[0].pk}").json()["data"]["name"] == "Run one"
    assert alice_client.get("/api/models/compare").status_code == 400  # not "model compare not found"


# --- API shape ---------------------------------------------------------------------------------------
def test_api_returns_the_models_side_by_side(alice_client, pair, django_assert_max_num_queries):
    first, second = pair
    with django_assert_max_num_queries(6):
        response = alice_client.get(f"/api/models/compare?ids={second.pk}&ids={first.pk}")  # repeated ids work too
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert [m["id"] for m in data["models"]] == [str(second.pk), str(first.pk)]  # the order asked for
    two, one = data["models"]
    assert one["training_health"] == HEALTH and two["training_health"] is None
    assert one["inspection"]["adapter"] == ADAPTER and two["inspection"] is None
    assert one["configuration"]["hyperparameters"]["learning_rate"] == 0.0002
    assert one["dataset"] == {"name": "Run one data"}
    rows = {row["key"]: row for row in data["configuration"]}
    assert rows["hyperparameters.learning_rate"] == {
        "key": "hyperparameters.learning_rate",
        "section": "hyperparameters",
        "name": "learning_rate",
        "values": [0.001, 0.0002],
        "differs": True,
    }
    assert rows["hyperparameters.batch_size"]["differs"] is False
    checks = {row["code"]: row for row in data["health_checks"]}
    assert checks["overfitting"]["statuses"] == [None, "warn"]
    history = one["loss_history"]
    assert history["training"] == {
        "steps": [0, 10, 20, 30],
        "epochs": [0.0, 0.1, 0.2, 0.3],
        "loss": [2.0, 1.4, 1.0, 0.8],
    }
    assert history["validation"]["steps"] == [0, 20, 30] and history["validation"]["loss"] == [2.1, 1.2, 1.0]
    assert len(history["smoothed_training"]["loss"]) == 4
    assert history["recorded_steps"] == 4 and history["thinned"] is False
    assert data["step_range"] == [0, 30]
    assert data["loss_range"] == [0.4, 2.6]


def test_long_histories_are_thinned_and_nonfinite_losses_are_null(alice, alice_client):
    long = [(3.0 - i * 0.002 if i != 700 else None, 2.5 if i % 10 == 0 else None) for i in range(1500)]
    first = model(alice, "Long run", history=long)
    second = model(alice, "Short run")
    response = alice_client.get(f"/api/models/compare?ids={ids(first, second)}")
    history = response.json()["data"]["models"][0]["loss_history"]
    assert history["recorded_steps"] == 1500 and history["thinned"] is True
    for series in ("training", "smoothed_training", "validation"):
        assert 2 < len(history[series]["steps"]) <= MAX_SERIES_POINTS
    training = history["training"]
    assert training["steps"][0] == 0 and training["steps"][-1] == 14990  # both ends kept
    assert training["loss"][training["steps"].index(7000)] is None  # the gap survives thinning
    assert len(history["validation"]["steps"]) == 150  # few enough to keep every one
    json.loads(response.content, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))


# --- Page -------------------------------------------------------------------------------------------
def rows_shown(html: str) -> dict[str, bool]:
    """Configuration row label → whether it is shown (not ``hidden``)."""
    section = html.split('aria-labelledby="config-heading"', 1)[1].split("</section>", 1)[0]
    found = {}
    row = r'<tr class="is-(?:different|same)"([^>]*)>\s*<th scope="row"[^>]*>(.*?)</th>'
    for attrs, label in re.findall(row, section, re.S):
        name = re.sub(r"<span class=\"cmp-(?:section|differs)\"[^>]*>.*?</span>", "", label).strip()
        found[name] = "hidden" not in attrs
    return found


def test_only_differences_by_default_and_all_settings_on_request(alice_client, pair):
    first, second = pair
    default = alice_client.get(f"/models/compare?ids={ids(first, second)}")
    assert default.status_code == 200
    html = default.content.decode()
    shown = rows_shown(html)
    assert shown["Learning rate"] is True
    assert shown["Batch size"] is False and shown["Epochs"] is False and shown["GPU type"] is False
    assert "1 of 7 settings differs" in text(default)
    assert re.search(r'href="\?ids=[^"]+&amp;show=all" data-diff-show="all"', html)
    assert 'data-diff-show="differences" aria-current="true"' in html

    everything = alice_client.get(f"/models/compare?ids={ids(first, second)}&show=all")
    assert all(rows_shown(everything.content.decode()).values())
    assert 'data-diff-show="all" aria-current="true"' in everything.content.decode()


def test_identical_configurations_say_so(alice, alice_client):
    first, second = model(alice, "Twin A"), model(alice, "Twin B")
    response = alice_client.get(f"/models/compare?ids={ids(first, second)}")
    assert "These models were trained with the same configuration." in text(response)
    assert "All 7 settings are the same" in text(response)
    assert not any(rows_shown(response.content.decode()).values())


def test_page_draws_one_curve_per_model_with_a_legend(alice_client, pair):
    first, second = pair
    html = alice_client.get(f"/models/compare?ids={ids(first, second)}").content.decode()
    for chart in ("cmp-train-wide", "cmp-train-compact", "cmp-val-wide", "cmp-val-compact"):
        svg = html.split(f'data-chart="{chart}"', 1)[1].split("</svg>", 1)[0]
        for m in (first, second):
            paths = re.findall(rf'<path class="cmp-line[^"]*" d="M[^"]+" data-model="{m.pk}"', svg)
            assert len(paths) == (2 if "train" in chart else 1), (chart, m.name)  # raw + smoothed; validation
    legend = html.split('class="cmp-legend"', 1)[1].split("</ul>", 1)[0]
    assert "Run one" in legend and "Run two" in legend
    assert "series-0" in legend and "series-1" in legend


def test_health_checks_and_adapter_facts_side_by_side(alice_client, pair):
    page = text(alice_client.get(f"/models/compare?ids={ids(*pair)}"))
    assert "Validation loss rose after step 20." in page
    assert "0.9000 at step 20" in page
    assert "Warning Validation loss rose from step 20." in page
    assert "Not computed" in page  # the second model has no training health yet
    assert "safetensors" in page and "LORA" in page and "2.0 MiB" in page
    assert "Not inspected" in page


def test_names_are_escaped(alice, alice_client):
    first = model(alice, "<script>alert(1)</script>")
    second = model(alice, "Plain")
    html = alice_client.get(f"/models/compare?ids={ids(first, second)}").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_models_without_metrics_or_configuration(alice, alice_client):
    first = model(alice, "Empty", history=[], configuration={})
    second = model(alice, "Also empty", history=[], configuration={})
    response = alice_client.get(f"/models/compare?ids={ids(first, second)}")
    assert response.status_code == 200
    page = text(response)
    assert "None of these models recorded any." in page
    assert "No configuration was recorded for these models." in page


def test_no_training_health_at_all_says_so_once(alice, alice_client):
    first, second = model(alice, "Old one"), model(alice, "Old two")
    page = text(alice_client.get(f"/models/compare?ids={ids(first, second)}"))
    assert "Training health has not been computed for these models yet." in page
    assert "Not computed" not in page


@pytest.mark.django_db
def test_a_repeated_id_that_is_none_of_yours_is_404_not_400(alice_client):
    unknown = "00000000-0000-0000-0000-000000000000"
    response = alice_client.get(f"/api/models/compare?ids={unknown},{unknown}")
    assert response.status_code == 404
    assert response.json() == {"error": "Model not found or access denied"}
