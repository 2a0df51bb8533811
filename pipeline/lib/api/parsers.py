"""Request bodies parsed within limits: size (``DATA_UPLOAD_MAX_MEMORY_SIZE``) and nesting depth.

Python's ``json`` module recurses once per nesting level, so ``[[[…]]]`` 100,000 deep is a
``RecursionError`` (a 500) before any validation runs. :func:`check_depth` scans the bytes once,
without recursion, and refuses a body nested deeper than :data:`MAX_JSON_DEPTH` before
``json.loads`` sees it. DRF's JSON parser reads the raw stream, where Django's own size limit does
not apply; :class:`JSONParser` reads at most the limit plus one byte and answers 413 past it.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers, status

MAX_JSON_DEPTH = 32
_OPEN, _CLOSE, _QUOTE, _BACKSLASH = frozenset(b"[{"), frozenset(b"]}"), ord('"'), ord("\\")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is too large."
    default_code = "payload_too_large"


class TooDeeplyNested(ValueError):
    pass


def max_body_bytes() -> int | None:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_message(limit: int) -> str:
    return f"Request body is too large (the limit is {limit} bytes)."


def check_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`TooDeeplyNested` if arrays/objects nest deeper than ``limit``.

    One linear pass; brackets inside strings (and escaped quotes) do not count.
    """
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > limit:
                raise TooDeeplyNested(f"JSON is nested deeper than {limit} levels.")
        elif byte in _CLOSE:
            depth -= 1


def loads(body: bytes) -> Any:
    """``json.loads`` behind the depth check; every malformed body is a ``ValueError``."""
    check_depth(body)
    try:
        return json.loads(body)
    except RecursionError:  # not reachable past check_depth; kept so no body can ever be a 500
        raise TooDeeplyNested(f"JSON is nested deeper than {MAX_JSON_DEPTH} levels.") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"Body is not UTF-8: {exc.reason}") from None


def read_limited(stream: Any, limit: int | None) -> bytes:
    """The whole body, or :class:`PayloadTooLarge` once it passes ``limit`` bytes."""
    if limit is None:
        return bytes(stream.read())
    body = bytes(stream.read(limit + 1))
    if len(body) > limit:
        raise PayloadTooLarge(too_large_message(limit))
    return body


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the body size and nesting limits (``DEFAULT_PARSER_CLASSES``)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        if stream is None:
            return None
        body = read_limited(stream, max_body_bytes())
        try:
            return loads(body)
        except TooDeeplyNested as exc:
            raise exceptions.ParseError(str(exc)) from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, but a body it cannot make sense of is a 400, not an empty form.

    Django's parser answers a body whose boundary never appears with no fields at all, which a
    view would read as "nothing asked for". Only a truly empty form (the closing delimiter alone)
    may parse to nothing.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = read_limited(stream, max_body_bytes()) if stream is not None else b""
        result = super().parse(io.BytesIO(body), media_type, parser_context)
        if not result.data and not result.files and not _is_empty_form(body, media_type or ""):
            raise exceptions.ParseError("Multipart body is malformed: no part matches its boundary.")
        return result


def _is_empty_form(body: bytes, media_type: str) -> bool:
    match = re.search(r"boundary=\"?([^\";]+)", media_type)
    return not body.strip() or (match is not None and body.strip() == b"--" + match.group(1).encode() + b"--")
