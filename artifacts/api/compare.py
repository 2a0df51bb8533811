"""``GET /api/models/compare?ids=a,b[,c,d]``: the response shape, models side by side (DESIGN §12)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from artifacts.api.serializers import DatasetNameSerializer, FiniteJSONField, JobBriefSerializer
from artifacts.models import ModelArtifact
from artifacts.services.comparison import Comparison
from pipeline.lib.numbers import json_safe


class ComparedModelSerializer(serializers.ModelSerializer):
    dataset_id = serializers.UUIDField(read_only=True, allow_null=True)
    dataset = DatasetNameSerializer(read_only=True, allow_null=True)
    job = JobBriefSerializer(read_only=True)
    quality_metrics = FiniteJSONField(read_only=True)
    configuration = FiniteJSONField(read_only=True)
    training_health = FiniteJSONField(read_only=True, help_text="null until computed (DESIGN §11).")
    inspection = FiniteJSONField(read_only=True, help_text="null until inspected (DESIGN §10).")
    loss_history = serializers.SerializerMethodField(
        help_text=(
            "training, smoothed_training and validation, each {steps, epochs, loss} with at most 500 points "
            "(thinned evenly, keeping each stretch's extremes); a null training loss was not finite."
        )
    )

    class Meta:
        model = ModelArtifact
        fields = [
            "id",
            "name",
            "dataset_id",
            "dataset",
            "job",
            "created_at",
            "quality_score",
            "quality_metrics",
            "configuration",
            "training_health",
            "inspection",
            "loss_history",
        ]
        read_only_fields = fields

    def get_loss_history(self, model: ModelArtifact) -> dict[str, Any]:
        history = self.context["histories"][str(model.pk)]
        return json_safe(history.as_json())  # type: ignore[no-any-return]


class ComparisonRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text='Dotted path, e.g. "hyperparameters.learning_rate".')
    section = serializers.CharField()
    name = serializers.CharField()
    values = serializers.ListField(child=serializers.JSONField(), help_text="One per model, in the models' order.")
    differs = serializers.BooleanField()


class CheckComparisonSerializer(serializers.Serializer):
    code = serializers.CharField()
    statuses = serializers.ListField(child=serializers.CharField(allow_null=True))
    messages = serializers.ListField(child=serializers.CharField(allow_null=True))
    differs = serializers.BooleanField()


class ComparisonSerializer(serializers.Serializer):
    models = ComparedModelSerializer(many=True)
    configuration = ComparisonRowSerializer(many=True)
    health_checks = CheckComparisonSerializer(many=True)
    step_range = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    loss_range = serializers.ListField(child=serializers.FloatField(), allow_null=True)


def comparison_data(comparison: Comparison) -> dict[str, Any]:
    histories = {str(m.pk): h for m, h in zip(comparison.models, comparison.histories, strict=True)}
    return {
        "models": ComparedModelSerializer(comparison.models, many=True, context={"histories": histories}).data,
        "configuration": json_safe([dict(row) for row in comparison.configuration]),
        "health_checks": [dict(row) for row in comparison.checks],
        "step_range": comparison.step_range,
        "loss_range": comparison.loss_range,
    }
