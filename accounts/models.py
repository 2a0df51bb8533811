"""Users (UUID primary keys) and hashed API tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from pipeline.lib.text import first_unprintable, has_visible

TOKEN_PREFIX = "plt_"  # noqa: S105 (a visible prefix, not a secret)


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    class Meta:
        db_table = "accounts_user"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def validate_printable(value: str) -> None:
    """No character the display rule of ``pipeline.lib.text`` refuses (newlines, NUL, bidi overrides,
    zero-width characters) in a label, and a label that is not empty shows something (not only
    spaces or blank-looking characters). Migration 0002 names this validator: keep it here."""
    if first_unprintable(value) is not None:
        raise ValidationError("Use printable characters only (no line breaks or control characters).")
    if value and not has_visible(value):
        raise ValidationError("Use at least one visible character (letters or digits), not only spaces.")


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active_for(self, user: User) -> ApiTokenQuerySet:
        """The tokens ``user`` may see and revoke: their own, not yet revoked."""
        return self.filter(user=user, revoked_at__isnull=True)

    def issue(self, user: User, name: str = "") -> tuple[ApiToken, str]:
        """Create a token; the raw value is returned once and never stored."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = self.create(user=user, name=name, prefix=raw[: len(TOKEN_PREFIX) + 8], hashed=hash_token(raw))
        return token, raw

    def authenticate(self, raw: str) -> ApiToken | None:
        if not raw.startswith(TOKEN_PREFIX) or len(raw) < len(TOKEN_PREFIX) + 8:
            return None
        digest = hash_token(raw)
        candidates = self.select_related("user").filter(prefix=raw[: len(TOKEN_PREFIX) + 8], revoked_at__isnull=True)
        for token in candidates:
            if secrets.compare_digest(token.hashed, digest):
                return token
        return None


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, default="", validators=[validate_printable])
    prefix = models.CharField(max_length=16, db_index=True, help_text="First characters, to tell tokens apart")
    hashed = models.CharField("SHA-256 hash", max_length=64, unique=True, help_text="SHA-256 of the token")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        db_table = "accounts_api_token"
        ordering = ["-created_at"]
        verbose_name = "API token"
        verbose_name_plural = "API tokens"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    def revoke(self) -> bool:
        """Stop the token working now; False when it already had been revoked."""
        updated = ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        return updated == 1
