"""Models API: query/body validation and the seed's response shapes."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty

from artifacts.filters import ModelListFilter
from artifacts.health.verdict import MODEL_VERDICTS
from artifacts.models import ArtifactFile, ModelArtifact
from artifacts.naming import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, validate_display_text
from pipeline.lib.api.pagination import PageQuerySerializer
from pipeline.lib.numbers import json_safe
from pipeline.models import Dataset, TrainingJob


# --- Input ----------------------------------------------------------------------------------------
class FlagField(serializers.BooleanField):
    """A yes/no query parameter: ``true``/``false`` (also ``1``/``0``, ``yes``/``no``, any case);
    an empty value means false."""

    allow_blank = True  # ``validated_query`` lets ``deleted=`` through as "no"
    default_error_messages = {"invalid": "Must be true or false."}
    YES, NO = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no", ""})

    def to_internal_value(self, data: Any) -> bool:
        value = data.strip().lower() if isinstance(data, str) else data
        if value in self.YES or value is True:
            return True
        if value in self.NO or value is False:
            return False
        self.fail("invalid")


class ModelListQuerySerializer(PageQuerySerializer, ModelListFilter):
    """The list's query: paging plus the filters the page shares (validated together, so a 400
    names every bad parameter at once)."""


class ModelListRequestSerializer(ModelListQuerySerializer):
    """Everything ``GET /api/models`` reads: the list's query and ``deleted``, which picks the list.
    Validated before either list is read, so a bad ``sort`` is a 400 on both."""

    deleted = FlagField(
        required=False,
        default=False,
        help_text="`true`: your models deleted within the retention period, newest deletion first "
        "(`sort` and the filters are checked but do not apply to this list).",
    )


class DownloadRequestSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        allow_null=True,
        allow_empty=False,
        max_length=1000,
        help_text="File names to sign; omit (or null) for every file of the model.",
    )


class TextField(serializers.CharField):
    """Text only: a number or a list is an error, not something to turn into a string.

    A form or multipart body reads as JSON does: ``name=`` is an empty name (refused, as the schema's
    ``minLength`` says), not a missing one, as DRF's reading of HTML forms would have it."""

    def get_value(self, dictionary: Any) -> Any:
        return dictionary.get(self.field_name, empty)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class ModelUpdateSerializer(serializers.Serializer):
    """``PATCH /api/models/{id}``: the owner renames or describes a model. Send ``name``,
    ``description`` or both; an empty object changes nothing and is refused."""

    name = TextField(required=False, trim_whitespace=False, help_text=f"Up to {NAME_MAX_LENGTH} characters, one line.")
    description = TextField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"Up to {DESCRIPTION_MAX_LENGTH} characters; line breaks allowed.",
    )

    def validate_name(self, value: str) -> str:
        try:
            return validate_display_text(value, NAME_MAX_LENGTH, label="Name")
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_description(self, value: str) -> str:
        try:
            return validate_display_text(
                value, DESCRIPTION_MAX_LENGTH, multiline=True, allow_empty=True, label="Description"
            )
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError('Send "name", "description" or both.')
        return attrs


# --- Output ---------------------------------------------------------------------------------------
class FiniteJSONField(serializers.JSONField):
    """JSON has no NaN/Infinity: a diverged run's metrics must not break the response."""

    def to_representation(self, value: Any) -> Any:
        return json_safe(super().to_representation(value))


class DatasetNameSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["name"]


class JobBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrainingJob
        fields = ["id", "preset_id", "created_at"]


class DatasetDetailSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "name", "total_training_pairs", "total_tokens"]


class JobDetailSerializer(serializers.ModelSerializer):
    estimated_total_cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, coerce_to_string=False, read_only=True, allow_null=True
    )
    final_cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, coerce_to_string=False, read_only=True, allow_null=True
    )

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "preset_id",
            "hyperparameters",
            "gpu_config",
            "queued_at",
            "started_at",
            "completed_at",
            "estimated_total_cost",
            "final_cost",
        ]


class ArtifactFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = ArtifactFile
        fields = ["filename", "size", "sha256", "content_type"]


class ModelArtifactSerializer(serializers.ModelSerializer):
    """The seed's ``lora_model_artifacts`` columns plus ``dataset {name}`` and ``job {...}``."""

    user_id = serializers.UUIDField(read_only=True)
    job_id = serializers.UUIDField(read_only=True)
    dataset_id = serializers.UUIDField(read_only=True, allow_null=True)
    quality_metrics = FiniteJSONField(read_only=True)
    training_summary = FiniteJSONField(read_only=True)
    artifacts = serializers.DictField(
        child=serializers.CharField(), read_only=True, help_text="File name → storage key."
    )
    dataset = DatasetNameSerializer(read_only=True, allow_null=True)
    job = JobBriefSerializer(read_only=True)
    folder = serializers.CharField(
        read_only=True,
        help_text="The model's folder name (DESIGN §14): where downloads, the bundle and the serving commands "
        "put its files. It follows a rename.",
    )
    verdict = serializers.ChoiceField(
        choices=MODEL_VERDICTS,
        read_only=True,
        help_text="DESIGN §14: `unusable` (the adapter cannot be used as delivered, or the run diverged), "
        "`warnings` or `ok`. Filter with `verdict=`.",
    )
    health_summary = serializers.SerializerMethodField(help_text="The training health's one-sentence summary.")
    repository = serializers.SerializerMethodField(
        help_text="The repository this model is a revision of (DESIGN §15), `ns/repo`: its id on the Hub endpoint."
    )
    commit = serializers.CharField(read_only=True, help_text="This revision's commit: 40 hex, never changes.")
    aliases = serializers.SerializerMethodField(help_text="The aliases pointing at this revision (e.g. `production`).")

    class Meta:
        model = ModelArtifact
        fields = [
            "id",
            "user_id",
            "job_id",
            "dataset_id",
            "name",
            "folder",
            "verdict",
            "health_summary",
            "repository",
            "commit",
            "aliases",
            "description",
            "version",
            "status",
            "quality_metrics",
            "quality_score",
            "training_summary",
            "configuration",
            "artifacts",
            "links_handed_out",
            "deleted_at",
            "created_at",
            "updated_at",
            "dataset",
            "job",
        ]
        read_only_fields = fields

    def get_repository(self, obj: ModelArtifact) -> str:
        return obj.repository.full_name

    def get_aliases(self, obj: ModelArtifact) -> list[str]:
        return obj.alias_list

    def get_health_summary(self, obj: ModelArtifact) -> str | None:
        """From the list's annotation (the health JSON itself stays unread there), else the stored health."""
        if hasattr(obj, "health_summary_text"):
            return obj.health_summary_text or None
        health = obj.training_health if "training_health" not in obj.get_deferred_fields() else None
        summary = health.get("summary") if isinstance(health, dict) else None
        return summary if isinstance(summary, str) and summary else None


class ModelArtifactDetailSerializer(ModelArtifactSerializer):
    dataset = DatasetDetailSerializer(read_only=True, allow_null=True)  # type: ignore[assignment]
    job = JobDetailSerializer(read_only=True)  # type: ignore[assignment]
    files = ArtifactFileSerializer(many=True, read_only=True)
    inspection = FiniteJSONField(
        read_only=True,
        allow_null=True,
        help_text="What inspecting the adapter found (DESIGN §10): verdict, findings, adapter facts, serving "
        "readiness per engine; null until inspected.",
    )

    training_health = FiniteJSONField(
        read_only=True, allow_null=True, help_text="DESIGN §11: summary, best step and loss, smoothed losses, checks."
    )

    class Meta(ModelArtifactSerializer.Meta):
        fields = [*ModelArtifactSerializer.Meta.fields, "files", "inspection", "training_health"]
        read_only_fields = fields


class DownloadGrantSerializer(serializers.Serializer):
    download_urls = serializers.DictField(child=serializers.URLField(), help_text="File name → signed URL.")
    expires_at = serializers.DateTimeField(default_timezone=UTC, help_text="When the URLs stop working (UTC).")
