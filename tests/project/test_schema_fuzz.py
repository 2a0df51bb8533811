"""Property-based fuzzing of the live OpenAPI schema (``/api/schema``) with schemathesis.

Every operation is called through the WSGI app with generated input, as a seeded user with a
bearer token, two models and a notification. Schemathesis' default checks must hold: no 5xx, only
documented statuses, responses matching their documented shapes and content types. The example
budget is fixed and generation derandomized, so a run is reproducible and stays short.
"""

from __future__ import annotations

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.models import ApiToken
from tests.factories import add_file, make_artifact, make_notification

MAX_EXAMPLES = 60
WEBHOOK_SECRET = "fuzz-webhook-secret"
# Operations whose well-formed input may still be refused with a 400 that no schema can describe:
# a webhook URL is checked against DNS (it must resolve, to public addresses only: DESIGN §16).
NETWORK_CHECKED = {("POST", "/api/webhook-endpoints")}


def operations() -> list[tuple[str, str]]:
    """Every (method, path) the schema documents, read from the code (no request, no database)."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item]


@pytest.fixture
def token(django_user_model, settings) -> str:
    settings.GPU_CLUSTER_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.API_TOKEN_FAILURE_LIMIT = 100_000  # the bad-token throttle would turn the 401 probes into 429s
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "download_grant": "100000/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    user = django_user_model.objects.create_user("fuzz", "fuzz@example.com", "fuzz-password-1")
    for name in ("First adapter", "Second adapter"):
        artifact = make_artifact(user, name=name)
        add_file(artifact, "adapter_config.json", b'{"r": 8}')
        add_file(artifact, "adapter_model.safetensors", b"weights")
    make_notification(user)
    return ApiToken.objects.issue(user)[1]


@pytest.fixture
def throttle_rates(settings, token, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])


@pytest.fixture
def keep_test_connection():
    """Called as a plain WSGI app, Django closes the database connection after each request, which
    on PostgreSQL ends the test's transaction; Django's own test client turns that off the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), operations(), ids=lambda value: str(value))
def test_api_honours_its_schema(method, path, token, throttle_rates, keep_test_connection):
    from pipeline.wsgi import application

    operation = schemathesis.openapi.from_wsgi("/api/schema", application)[path][method]
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    def fuzz(case):
        excluded = [positive_data_acceptance] if (method, path) in NETWORK_CHECKED else None
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    fuzz()


# --- The schema's promises both ways: what it allows is served, what it refuses is refused ---------

PROMISES = [("GET", "/api/models"), ("PATCH", "/api/models/{id}")]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), PROMISES, ids=lambda value: str(value))
def test_api_refuses_what_its_schema_refuses(method, path, token, throttle_rates, keep_test_connection):
    """Requests the schema calls invalid (an empty PATCH body, a `sort` outside its enum, with or
    without `deleted=true`) are answered with a 4xx, on one of the user's own models."""
    from schemathesis import GenerationMode
    from schemathesis.checks import negative_data_rejection

    from artifacts.models import ModelArtifact
    from pipeline.wsgi import application

    operation = schemathesis.openapi.from_wsgi("/api/schema", application)[path][method]
    fixed = {"path_parameters": {"id": str(ModelArtifact.objects.first().pk)}} if "{id}" in path else {}
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, **fixed))
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    def fuzz(case):
        case.call_and_validate(headers=headers, checks=[negative_data_rejection])

    fuzz()


@pytest.mark.django_db
def test_every_list_query_the_schema_allows_is_served(token, throttle_rates, keep_test_connection):
    """Any combination of documented list parameters within their documented values answers 200."""
    from schemathesis.checks import positive_data_acceptance

    from pipeline.wsgi import application

    operation = schemathesis.openapi.from_wsgi("/api/schema", application)["/api/models"]["GET"]
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    def fuzz(case):
        response = case.call_and_validate(headers=headers, checks=[positive_data_acceptance])
        assert response.status_code == 200, (case.query, response.text[:200])

    fuzz()
