"""``GET /api/models/<id>``: dataset, job and files, nulls, a diverged run, and 404 in the seed shape."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from tests.conftest import NOT_FOUND, logged_in
from tests.factories import add_file, make_artifact, make_dataset, make_job

pytestmark = pytest.mark.django_db


def test_detail_has_dataset_job_and_files(alice):
    dataset = make_dataset(alice, name="Support chats")
    job = make_job(alice, dataset, estimated_total_cost=Decimal("14.00"), final_cost=Decimal("12.50"))
    artifact = make_artifact(alice, job)
    config = add_file(artifact, "adapter_config.json", b'{"r": 16}')
    weights = add_file(artifact, "adapter_model.safetensors", b"\x00" * 1000)

    response = logged_in(alice).get(f"/api/models/{artifact.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["id"] == str(artifact.id)
    assert data["name"] == artifact.name
    assert data["artifacts"] == {"adapter_config.json": config.key, "adapter_model.safetensors": weights.key}
    assert data["dataset"] == {
        "id": str(dataset.id),
        "name": "Support chats",
        "total_training_pairs": 1000,
        "total_tokens": 250_000,
    }
    job_data = data["job"]
    assert set(job_data) == {
        "id",
        "preset_id",
        "hyperparameters",
        "gpu_config",
        "queued_at",
        "started_at",
        "completed_at",
        "estimated_total_cost",
        "final_cost",
    }
    assert job_data["id"] == str(job.id)
    assert job_data["hyperparameters"]["rank"] == 16
    assert job_data["gpu_config"] == {"type": "A100-80GB", "count": 2}
    assert job_data["estimated_total_cost"] == 14.0
    assert job_data["final_cost"] == 12.5
    assert data["files"] == [
        {
            "filename": "adapter_config.json",
            "size": 9,
            "sha256": config.sha256,
            "content_type": "application/octet-stream",
        },
        {
            "filename": "adapter_model.safetensors",
            "size": 1000,
            "sha256": weights.sha256,
            "content_type": "application/octet-stream",
        },
    ]


def test_detail_without_dataset_or_costs_answers_nulls(alice):
    artifact = make_artifact(alice, make_job(alice, None, final_cost=None))
    data = logged_in(alice).get(f"/api/models/{artifact.id}").json()["data"]
    assert data["dataset"] is None
    assert data["dataset_id"] is None
    assert data["job"]["final_cost"] is None
    assert data["files"] == []


def test_detail_ignores_the_list_parameters(alice):
    """Only the list validates its query: a list-only parameter never turns a detail into a 400."""
    artifact = make_artifact(alice)
    response = logged_in(alice).get(f"/api/models/{artifact.id}", {"sort": "bogus", "page": "0", "min_score": "9"})
    assert response.status_code == 200
    assert response.json()["data"]["id"] == str(artifact.id)


def test_detail_of_a_diverged_run_is_still_valid_json(alice):
    artifact = make_artifact(alice)
    # A backend that keeps NaN (PostgreSQL floats, or a hand-edited row) must not break the API.
    type(artifact).objects.filter(pk=artifact.pk).update(
        quality_metrics={"overall_score": 1, "convergence_quality": "diverged", "final_training_loss": None}
    )
    artifact.refresh_from_db()
    artifact.quality_metrics["final_training_loss"] = float("nan")

    from artifacts.api.serializers import ModelArtifactDetailSerializer

    data = ModelArtifactDetailSerializer(artifact).data
    assert data["quality_metrics"]["final_training_loss"] is None


@pytest.mark.parametrize("model_id", ["6f1c1a52-3d0e-4b8a-9c57-2e4f0d9b7a13", "not-a-uuid", "0"])
def test_detail_of_a_missing_model_is_404_in_the_seed_shape(alice, model_id):
    response = logged_in(alice).get(f"/api/models/{model_id}")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_detail_of_a_deleted_model_is_404(alice):
    artifact = make_artifact(alice, deleted_at=timezone.now())
    response = logged_in(alice).get(f"/api/models/{artifact.id}")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
