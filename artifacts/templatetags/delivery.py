"""Template helpers of the delivery and lifecycle partials (bundle state, storage use), so the
shared model pages only ``{% include %}`` them."""

from __future__ import annotations

from typing import Any

from django import template

from artifacts.models import Bundle, ModelArtifact
from artifacts.services.lifecycle import StorageUse, storage_use

register = template.Library()


@register.simple_tag
def bundle_of(artifact: ModelArtifact) -> Bundle | None:
    return Bundle.objects.filter(artifact=artifact).first()


@register.simple_tag
def storage_use_of(user: Any) -> StorageUse:
    return storage_use(user)


@register.filter
def percent(progress: float) -> int:
    return int(round(float(progress or 0) * 100))
