"""The Webhooks page's forms; the rules are the services' (``events.services.endpoints``)."""

from __future__ import annotations

from typing import Any

from django import forms

from events.models import EVENT_TYPES
from events.services import endpoints


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/pipeline", "autocomplete": "off"}),
        help_text="Must be https and reachable from the internet.",
    )
    description = forms.CharField(label="Description", max_length=500, required=False)
    events = forms.MultipleChoiceField(
        label="Events",
        choices=[(t, t) for t in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        initial=list(EVENT_TYPES),
    )

    def clean_url(self) -> str:
        return endpoints.clean_url(self.cleaned_data["url"])

    def clean_events(self) -> list[str]:
        return endpoints.clean_events(self.cleaned_data["events"])


class EndpointEditForm(EndpointForm):
    enabled = forms.BooleanField(label="Enabled", required=False)

    def changes(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class ReplaySinceForm(forms.Form):
    since = forms.DateTimeField(
        label="Failed since (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
