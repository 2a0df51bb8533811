"""Object keys for artifact files: one rule for every storage backend.

A file stores under ``{user_id}/{artifact_id}/{leaf}``. The leaf is the cluster's file name when
every backend can hold it as-is, otherwise a portable encoding of it; the original name stays in
the ``ArtifactFile`` row and the download's ``Content-Disposition``, so users never see the leaf.

Why a mapping: Supabase Storage refuses keys outside a small charset with ``400 InvalidKey``
(supabase/storage ``src/storage/limits.ts`` ``isValidKey``:
``/^(\\w|\\/|!|-|\\.|\\*|'|\\(|\\)| |&|\\$|@|=|;|:|\\+|,|\\?)*$/``), which follows the S3 "safe
characters" guidance (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html); and
its Python client percent-decodes keys, so ``a%20b.bin`` and ``a b.bin`` would address one object.

The three kinds of leaf cannot meet, so no two names share a key:

* **kept**: the name itself, when it uses only S3's safe characters (``A-Z a-z 0-9 ! - _ . * ' ( )``)
  plus space, and does not start with ``!``;
* **escaped**: ``!`` + the name with every other character written as ``*XX`` per UTF-8 byte
  (``*`` itself becomes ``*2A``; a leading ``!`` becomes ``*21``), reversible by :func:`leaf_name`;
* **hashed**: ``!!`` + the SHA-256 of the name, when the escaped form would pass 255 bytes (the
  longest file name a local file system holds). Escaped leaves never start with ``!!``.
"""

from __future__ import annotations

import hashlib
import re
import string
import uuid

MAX_LEAF_BYTES = 255
KEPT = frozenset(string.ascii_letters + string.digits + "!-_.*'() ")
ESCAPE, MARKER, HASHED = "*", "!", "!!"
_UNESCAPED = frozenset(string.ascii_letters + string.digits + "-_.'() ")
_ESCAPED_BYTE = re.compile(r"(\*[0-9A-F]{2})")


def storage_leaf(filename: str) -> str:
    """The last segment of ``filename``'s key (see the module docstring)."""
    if filename and all(char in KEPT for char in filename) and not filename.startswith(MARKER):
        return filename
    escaped = MARKER + "".join(
        char if char in _UNESCAPED else "".join(f"{ESCAPE}{byte:02X}" for byte in char.encode("utf-8"))
        for char in filename
    )
    if len(escaped.encode()) <= MAX_LEAF_BYTES:
        return escaped
    return HASHED + hashlib.sha256(filename.encode("utf-8")).hexdigest()


def leaf_name(leaf: str) -> str | None:
    """The file name a kept or escaped leaf stands for (``None`` for a hashed one)."""
    if leaf.startswith(HASHED):
        return None
    if not leaf.startswith(MARKER):
        return leaf
    raw = bytearray()
    for part in _ESCAPED_BYTE.split(leaf[1:]):
        raw += bytes([int(part[1:], 16)]) if _ESCAPED_BYTE.fullmatch(part) else part.encode()
    return raw.decode("utf-8")


# Where an artifact's zip bundles live, beside its files. ``!bundles`` is the escaped form of
# ``bundles``, a name that is always kept as-is, so no cluster file name ever maps to it: a file
# called ``bundles`` cannot stand where the bundles' folder must go.
BUNDLES_LEAF = MARKER + "bundles"


def user_prefix(user_id: uuid.UUID | str) -> str:
    """Where every object of one user lives (ends in ``/``): what deleting the account clears."""
    return f"{user_id}/"


def artifact_prefix(user_id: uuid.UUID | str, artifact_id: uuid.UUID | str) -> str:
    """Where one artifact's files live (ends in ``/``); what ``clear_prefix`` removes."""
    return f"{user_prefix(user_id)}{artifact_id}/"


def storage_key(user_id: uuid.UUID | str, artifact_id: uuid.UUID | str, filename: str) -> str:
    """The key of ``filename`` of artifact ``artifact_id``: the same on local, S3 and Supabase."""
    return artifact_prefix(user_id, artifact_id) + storage_leaf(filename)
