"""The OpenAPI schema says what the server does: an empty PATCH body is documented as invalid and
answered 400, and ``sort`` outside its enum is refused on every listing, ``deleted=true`` included."""

from __future__ import annotations

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from artifacts.services import lifecycle
from tests.factories import make_artifact

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def request_schema(schema, path: str, method: str) -> dict:
    body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]


def list_parameter(schema, name: str) -> dict:
    parameters = schema["paths"]["/api/models"]["get"]["parameters"]
    return next(p for p in parameters if p["name"] == name)


# --- PATCH /api/models/{id} -------------------------------------------------------------------------


def test_the_schema_refuses_an_empty_patch_body_as_the_server_does(schema, alice, alice_client):
    body = request_schema(schema, "/api/models/{id}", "patch")
    assert body["minProperties"] == 1
    assert set(body["properties"]) == {"name", "description"}
    assert body["properties"]["name"]["minLength"] == 1
    assert "400" in schema["paths"]["/api/models/{id}"]["patch"]["responses"]

    model = make_artifact(alice, name="Kept")
    for empty in ({}, {"name": ""}):
        response = alice_client.patch(f"/api/models/{model.pk}", empty, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["error"]
    model.refresh_from_db()
    assert model.name == "Kept"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=B"])
def test_a_form_body_reads_as_json_does(alice, alice_client, content_type):
    """The schema offers form and multipart bodies too: an empty ``name=`` is an empty name there,
    refused, not a missing one that lets the rest through."""
    model = make_artifact(alice, name="Kept", description="old")
    if content_type.startswith("multipart"):
        body = '--B\r\nContent-Disposition: form-data; name="name"\r\n\r\n\r\n'
        body += '--B\r\nContent-Disposition: form-data; name="description"\r\n\r\nnew\r\n--B--\r\n'
    else:
        body = "name=&description=new"

    response = alice_client.patch(f"/api/models/{model.pk}", body, content_type=content_type)

    assert response.status_code == 400
    assert response.json()["error"].startswith("name:")
    model.refresh_from_db()
    assert (model.name, model.description) == ("Kept", "old")


def test_a_form_body_with_a_name_renames(alice, alice_client):
    model = make_artifact(alice, name="Kept")
    response = alice_client.patch(
        f"/api/models/{model.pk}", "name=Renamed", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert response.json()["data"]["name"] == "Renamed"


def test_the_served_schema_says_it_too(alice_client):
    response = alice_client.get("/api/schema?format=json")
    assert response.status_code == 200
    assert response.json()["components"]["schemas"]["PatchedModelUpdate"]["minProperties"] == 1


# --- GET /api/models ----------------------------------------------------------------------------------


def test_deleted_and_sort_are_documented_as_the_server_reads_them(schema):
    assert list_parameter(schema, "sort")["schema"]["enum"] == ["created_at", "quality"]
    assert list_parameter(schema, "deleted")["schema"]["type"] == "boolean"


@pytest.mark.parametrize("deleted", ["true", "false", "1", ""])
@pytest.mark.parametrize("sort", ["³", "name", "-created_at", "QUALITY"])
def test_a_sort_outside_the_enum_is_a_400_on_every_listing(alice, alice_client, deleted, sort):
    make_artifact(alice, deleted_at=timezone.now())

    response = alice_client.get("/api/models", {"deleted": deleted, "sort": sort})

    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith("sort:")
    assert set(body["details"]) == {"sort"}


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"deleted": "true", "page": "0"}, {"page"}),
        ({"deleted": "true", "limit": "101"}, {"limit"}),
        ({"deleted": "true", "min_score": "9"}, {"min_score"}),
        ({"deleted": "true", "dataset": "not-a-uuid"}, {"dataset"}),
        ({"deleted": "true", "sort": ""}, {"sort"}),
        ({"deleted": "maybe", "sort": "³"}, {"deleted", "sort"}),  # every bad parameter, at once
    ],
)
def test_the_deleted_list_checks_every_parameter(alice_client, query, named):
    response = alice_client.get("/api/models", query)

    assert response.status_code == 400
    assert set(response.json()["details"]) == named


def test_a_good_query_on_the_deleted_list_lists_the_deleted_models(alice, alice_client):
    live = make_artifact(alice, name="Live")
    first, second = make_artifact(alice, name="First"), make_artifact(alice, name="Second")
    lifecycle.soft_delete(first)
    lifecycle.soft_delete(second)

    response = alice_client.get("/api/models", {"deleted": "true", "sort": "quality", "limit": "1"})

    assert response.status_code == 200
    data = response.json()["data"]
    assert [m["name"] for m in data["models"]] == ["Second"]
    assert data["pagination"] == {"page": 1, "limit": 1, "total": 2, "totalPages": 2}
    assert live.name not in str(data)
