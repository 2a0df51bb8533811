"""What the OpenAPI schema says beyond what drf-spectacular reads from the code: the API's
authentication, and body rules a serializer checks in ``validate`` (imported by the API views to
register these extensions)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from `python manage.py create_api_token <username>`.",
        }


class ModelUpdateSchema(OpenApiSerializerExtension):
    """``PATCH /api/models/{id}``: an empty object is a 400 (``ModelUpdateSerializer.validate``) and
    an empty name is one too (the field refuses blanks), so the schema refuses them as well."""

    target_class = "artifacts.api.serializers.ModelUpdateSerializer"

    def map_serializer(self, auto_schema, direction):  # type: ignore[no-untyped-def]
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["minProperties"] = 1
        schema["properties"]["name"]["minLength"] = 1
        return schema
