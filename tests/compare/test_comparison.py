"""Compare: configuration rows with an honest "differs" flag, and loss curves on shared axes."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

from artifacts.health.loss_history import smooth
from artifacts.health.training_health import training_health
from artifacts.services.comparison import check_rows, config_rows, curves
from pipeline.demo_data import JOBS, loss_history


def config(lr=2e-4, rank=16, preset="balanced", gpu="L40S", **extra):
    return {
        "preset_id": preset,
        "hyperparameters": {"learning_rate": lr, "rank": rank, "lora_alpha": rank * 2, **extra},
        "gpu_config": {"type": gpu, "count": 1},
    }


def by_key(rows):
    return {row["key"]: row for row in rows}


def test_rows_flatten_sections_and_flag_differences():
    rows = config_rows([config(), config(rank=32), config(lr=0.0002)])
    keys = [row["key"] for row in rows]
    assert keys == [
        "preset_id",
        "hyperparameters.learning_rate",
        "hyperparameters.rank",
        "hyperparameters.lora_alpha",
        "gpu_config.type",
        "gpu_config.count",
    ]
    rows_by_key = by_key(rows)
    assert rows_by_key["hyperparameters.rank"] == {
        "key": "hyperparameters.rank",
        "section": "hyperparameters",
        "name": "rank",
        "values": [16, 32, 16],
        "differs": True,
    }
    assert rows_by_key["hyperparameters.lora_alpha"]["differs"] is True
    assert rows_by_key["hyperparameters.learning_rate"]["differs"] is False  # 2e-4 == 0.0002
    assert rows_by_key["preset_id"]["section"] == ""
    assert [r["key"] for r in rows if r["differs"]] == ["hyperparameters.rank", "hyperparameters.lora_alpha"]


def test_a_setting_only_some_models_have_differs_and_shows_none():
    rows = by_key(config_rows([config(), config(use_dora=True)]))
    assert rows["hyperparameters.use_dora"]["values"] == [None, True]
    assert rows["hyperparameters.use_dora"]["differs"] is True
    # an explicit None and a missing key are not the same setting either
    assert by_key(config_rows([{"a": None}, {}]))["a"]["differs"] is True


def test_equality_rules():
    def differs(a, b):
        return config_rows([{"v": a}, {"v": b}])[0]["differs"]

    assert not differs(16, 16.0)
    assert differs(True, 1)  # a flag is not a number
    assert not differs(math.nan, math.nan)
    assert not differs(["q_proj", "v_proj"], ["v_proj", "q_proj"])  # target modules: order is noise
    assert differs(["q_proj"], ["q_proj", "v_proj"])
    assert differs([1, 2], [2, 1])  # other lists keep their order
    assert differs("16", 16)


def test_single_model_and_junk_configs():
    assert all(not row["differs"] for row in config_rows([config()]))
    assert config_rows([]) == []
    rows = config_rows([None, "junk", config()])  # type: ignore[list-item]
    assert rows and all(row["values"][:2] == [None, None] and row["differs"] for row in rows)


def demo(slug):
    job = next(j for j in JOBS if j.slug == slug)
    return [
        {"step": s, "epoch": i / 10, "training_loss": t if math.isfinite(t) else None, "validation_loss": v}
        for i, (s, t, v) in enumerate(loss_history(job))
    ]


def test_curves_align_steps_epochs_and_both_losses():
    data = curves({"a": demo("good"), "b": demo("no-validation")})
    assert [s["id"] for s in data["series"]] == ["a", "b"]
    a, b = data["series"]
    assert a["steps"] == list(range(0, 1000, 25))
    assert len(a["epochs"]) == len(a["training"]) == len(a["validation"]) == 40
    assert a["validation"][4] is not None and a["validation"][5] is None
    assert all(v is None for v in b["validation"])
    assert data["step_range"] == [0, 975]
    assert data["epoch_range"] == [0.0, 3.9]
    low, high = data["loss_range"]
    assert low == min(x for s in data["series"] for x in s["training"] + s["validation"] if x is not None)
    assert high >= 2.0


def test_nonfinite_training_is_a_gap_not_a_number():
    data = curves([("d", demo("diverged"))])
    series = data["series"][0]
    assert series["steps"][-1] == 975
    assert series["training"][-3:] == [None, None, None]
    json.dumps(data, allow_nan=False)  # no NaN reaches the page or the API


def test_curves_sort_dedupe_and_read_objects():
    points = [
        SimpleNamespace(step=20, epoch=0.2, training_loss=1.0, validation_loss=None),
        SimpleNamespace(step=10, epoch=0.1, training_loss=2.0, validation_loss=None),
        SimpleNamespace(step=20, epoch=0.2, training_loss=0.9, validation_loss=1.1),  # later record wins
    ]
    series = curves({"m": points})["series"][0]
    assert series == {
        "id": "m",
        "steps": [10, 20],
        "epochs": [0.1, 0.2],
        "training": [2.0, 0.9],
        "smoothed_training": smooth([2.0, 0.9]),
        "validation": [None, 1.1],
    }


def test_empty_histories():
    assert curves({}) == {"series": [], "step_range": None, "epoch_range": None, "loss_range": None}
    data = curves({"x": []})
    assert data["series"][0]["steps"] == [] and data["loss_range"] is None


def test_smoothed_training_follows_the_training_gaps():
    series = curves([("d", demo("diverged"))])["series"][0]
    finite = [x for x in series["training"] if x is not None]
    assert [x for x in series["smoothed_training"] if x is not None] == smooth(finite)
    assert [x is None for x in series["smoothed_training"]] == [x is None for x in series["training"]]


def test_check_rows_line_up_health_across_models():
    healths = [training_health(demo("good")), training_health(demo("overfitting")), training_health(demo("diverged"))]
    rows = {row["code"]: row for row in check_rows(healths)}
    assert list(rows)[:3] == ["diverged", "few_points", "no_validation"]
    assert rows["overfitting"]["statuses"] == ["pass", "warn", None]  # not judged on a diverged run
    assert rows["overfitting"]["differs"] is True
    assert rows["diverged"]["statuses"] == ["pass", "pass", "fail"]
    assert rows["few_points"] == {
        "code": "few_points",
        "statuses": ["pass", "pass", "pass"],
        "messages": [h["checks"][1]["message"] for h in healths],
        "differs": False,
    }
    assert check_rows([None, {"checks": "junk"}]) == []
