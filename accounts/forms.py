from __future__ import annotations

from django import forms

from accounts.models import ApiToken


class TokenCreateForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name"]
        help_texts = {"name": "What the token is for, e.g. “laptop” or “CI download job”. Up to 100 characters."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].required = True  # older tokens may have none; new ones must
