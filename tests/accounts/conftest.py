"""Fixtures of the account tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """These tests check many passwords: hash them cheaply (autouse runs before the user fixtures)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
