"""Errors the CLI expects and reports as one line (never a traceback)."""

from __future__ import annotations


class ClientError(Exception):
    """An expected failure: bad input, no login, the server refusing, the network down."""


class ApiError(ClientError):
    """The API answered with an error status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class DownloadFailed(ClientError):
    """One file could not be downloaded and verified."""
