"""The owner renames or describes a model from its page (a plain form: works without JavaScript).

Same rules as ``PATCH /api/models/{id}`` (``artifacts.naming.validate_display_text``). Errors are
shown on an edit page with the form filled in (400); success returns to the model with a message.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from artifacts.models import ModelArtifact
from artifacts.naming import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, validate_display_text
from artifacts.services.editing import update_display


class ModelEditForm(forms.Form):
    # Lengths are checked after cleaning by validate_display_text, with its own message.
    name = forms.CharField(strip=False)
    description = forms.CharField(required=False, strip=False, widget=forms.Textarea)

    def clean_name(self) -> str:
        try:
            return validate_display_text(self.cleaned_data["name"], NAME_MAX_LENGTH, label="Name")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_description(self) -> str:
        try:
            return validate_display_text(
                self.cleaned_data.get("description") or "",
                DESCRIPTION_MAX_LENGTH,
                multiline=True,
                allow_empty=True,
                label="Description",
            )
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


def edit_context(artifact: ModelArtifact, form: ModelEditForm | None = None) -> dict[str, Any]:
    return {
        "artifact": artifact,
        "edit_form": form or ModelEditForm(initial={"name": artifact.name, "description": artifact.description}),
        "name_max_length": NAME_MAX_LENGTH,
        "description_max_length": DESCRIPTION_MAX_LENGTH,
    }


@login_required
@require_http_methods(["GET", "POST"])
def model_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    artifact = get_object_or_404(ModelArtifact.objects.visible_to(request.user), pk=pk)
    if request.method == "GET":
        return render(request, "artifacts/model_edit.html", edit_context(artifact))
    form = ModelEditForm(request.POST)
    if not form.is_valid():
        return render(request, "artifacts/model_edit.html", edit_context(artifact, form), status=400)
    update_display(artifact, {"name": form.cleaned_data["name"], "description": form.cleaned_data["description"]})
    messages.success(request, "Saved.")
    return redirect("models:detail", pk=artifact.pk)
