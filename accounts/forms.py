from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import ApiToken

MAX_ACTIVE_TOKENS = 50  # enough for every machine and job; a bound on what one account can pile up


class TokenCreateForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name"]
        help_texts = {"name": "What the token is for, e.g. “laptop” or “CI download job”. Up to 100 characters."}

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["name"].required = True  # older tokens may have none; new ones must

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if ApiToken.objects.active_for(self.user).count() >= MAX_ACTIVE_TOKENS:
            raise forms.ValidationError(
                f"You already have {MAX_ACTIVE_TOKENS} active tokens, the most allowed. Revoke one you no longer use."
            )
        return cleaned
