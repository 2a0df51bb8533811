"""The safetensors header: the format's limits and dtypes, and reading the header into tensor records.

The format (safetensors README "Format"; safetensors/src/tensor.rs): an 8-byte little-endian
unsigned length N, then N bytes of UTF-8 JSON starting with ``{`` (may be space-padded, no
repeated keys) mapping tensor names to ``{"dtype", "shape", "data_offsets": [begin, end]}`` plus an
optional ``__metadata__`` string map. Upstream refuses N above 100,000,000 (``MAX_HEADER_SIZE``).
:func:`read_header` checks each entry (a known dtype, a shape, offsets whose span equals numel x
dtype size, ``TensorInvalidInfo`` upstream) and turns it into a small :class:`TensorInfo`, one at a
time, so a header of thousands of tensors never exists as a whole JSON tree. The data section's
layout is checked by the stream (``artifacts.inspection.safetensors_stream``).
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

MAX_HEADER_SIZE = 100_000_000  # safetensors/src/tensor.rs MAX_HEADER_SIZE
MAX_DIMENSIONS = 64
# Parsing turns every JSON item into a Python object several times its text size; a header of
# tiny items ("0,0,0,...") would cost gigabytes. Real adapters list a few thousand tensors at
# most (about five items each), so a million items is generous and keeps parsing bounded.
MAX_HEADER_ITEMS = 1_000_000

# Bits per element of every dtype safetensors knows (safetensors/src/tensor.rs ``Dtype``).
DTYPE_BITS = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "C64": 64,
}


_DTYPE_NAMES = {name: name for name in DTYPE_BITS}


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a header becomes objects (or a report is made of them).

    Parsing a header of thousands of tensors allocates tens of thousands of dicts, lists and
    tuples that all live until the parse ends; counted against the collector's thresholds
    (Python docs, ``gc.set_threshold``) they trigger collections that promote them, and then a
    full collection of the whole process heap, which in a worker with Django loaded cost more
    than the parse itself (profiled: 0.15 s for a 4,096-tensor header). A JSON tree holds no
    reference cycles, and the temporaries are freed by reference counting as the parse returns.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass(slots=True)  # thousands of these per adapter: no per-instance __dict__
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int
    nonfinite: int = 0
    all_zero: bool = True
    scanned: int = 0  # bytes of this tensor seen so far

    @property
    def numel(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    @property
    def complete(self) -> bool:
        return self.scanned == self.end - self.begin


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(f"the header repeats the key {key!r}")
        result[key] = value
    return result


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)
_SPACE = re.compile(r"[ \t\n\r]*")  # what json.loads skips between tokens (json/decoder.py WHITESPACE)


def _skip_space(text: str, index: int) -> int:
    match = _SPACE.match(text, index)
    return match.end() if match else index


def _top_level(text: str) -> Iterator[tuple[str, object]]:
    """The (key, value) pairs of the JSON object ``text`` (which starts with ``{``), one at a time.

    ``json.loads`` would build every entry of a header of thousands of tensors before the first
    one could be turned into its small record, holding several times the header's size at once;
    here each value is decoded by the json module's own decoder (same grammar, same duplicate-key
    check inside it) and handed over before the next. Raises ``ValueError`` where ``json.loads``
    would, including for anything after the object but whitespace.
    """
    index = _skip_space(text, 1)
    if text[index : index + 1] == "}":
        index += 1
    else:
        while True:
            if text[index : index + 1] != '"':
                raise ValueError(f"expecting a key at {index}")
            key, index = _DECODER.raw_decode(text, index)  # a JSON string, by the same decoder
            index = _skip_space(text, index)
            if text[index : index + 1] != ":":
                raise ValueError(f"expecting ':' at {index}")
            value, index = _DECODER.raw_decode(text, _skip_space(text, index + 1))
            yield key, value
            index = _skip_space(text, index)
            separator = text[index : index + 1]
            index = _skip_space(text, index + 1)
            if separator == "}":
                break
            if separator != ",":
                raise ValueError(f"expecting ',' or '}}' at {index}")
    if _skip_space(text, index) != len(text):
        raise ValueError(f"extra data at {index}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Header:
    """What :func:`read_header` found: the tensors in header order and the metadata, or what is wrong.

    On an error ``tensors`` holds the entries read before it, and ``metadata`` is None unless the
    header parsed and its ``__metadata__`` is a map of strings.
    """

    tensors: list[TensorInfo]
    metadata: dict[str, str] | None
    error: str | None


def read_header(raw: bytearray) -> Header:
    """Read the header's JSON text (the bytes after the length prefix) into tensor records."""
    tensors: list[TensorInfo] = []
    if not raw.startswith(b"{"):
        return Header(tensors, None, "The header does not start with '{', so it is not a JSON object.")
    if raw.count(b",") > MAX_HEADER_ITEMS:
        return Header(
            tensors, None, f"The header lists more than {MAX_HEADER_ITEMS:,} items, far more than any adapter has."
        )
    metadata: object = {}
    repeated: str | None = None  # a key the top level repeats (the first one)
    problem = ""  # what is wrong with the first invalid tensor entry
    seen: set[str] = set()
    shapes: dict[tuple[int, ...], tuple[int, ...]] = {}
    try:
        text = raw.decode("utf-8")
        del raw  # the caller keeps no reference: the bytes go as soon as they are text
        for key, value in _top_level(text):  # each entry is dropped once its record is made
            if key in seen:
                repeated = repeated or key
            elif key == "__metadata__":
                metadata = value
            elif not problem and repeated is None:
                made = _tensor(key, value, shapes)
                if isinstance(made, str):
                    problem = made
                else:
                    tensors.append(made)
            seen.add(key)
        del text
    except _Duplicate as error:
        return Header(tensors, None, f"The header is invalid: {error}.")
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Header(tensors, None, "The header is not valid UTF-8 JSON.")
    if repeated is not None:
        return Header(tensors, None, f"The header is invalid: the header repeats the key {repeated!r}.")
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        return Header(tensors, None, "The header's __metadata__ is not a map of strings.")
    return Header(tensors, metadata, problem or None)


def _tensor(name: str, entry: object, shapes: dict[tuple[int, ...], tuple[int, ...]]) -> TensorInfo | str:
    """The record of one header entry, or what is wrong with it."""
    if not isinstance(entry, dict):
        return f"Tensor {name!r} has no dtype/shape/data_offsets object."
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        return f"Tensor {name!r} has an unknown dtype {str(dtype)[:20]!r}."
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMENSIONS
        or not all(_is_int(dim) and dim >= 0 for dim in shape)
    ):
        return f"Tensor {name!r} has an invalid shape."
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
        return f"Tensor {name!r} has invalid data_offsets."
    begin, end = offsets
    if begin < 0 or end < begin:
        return f"Tensor {name!r} has data_offsets [{begin}, {end}] that are negative or reversed."
    # Adapters repeat a few shapes thousands of times: one tuple per distinct shape and the
    # dtype name's own string keep a large header's records small.
    dims = tuple(shape)
    tensor = TensorInfo(name, _DTYPE_NAMES[dtype], shapes.setdefault(dims, dims), begin, end)
    bits = tensor.numel * DTYPE_BITS[dtype]
    if bits % 8 or bits // 8 != end - begin:
        needed = f"{bits / 8:,.0f}" if bits < 8 * 10**15 else f"{bits / 8:.3g}"
        return f"Tensor {name!r} spans {end - begin:,} bytes but its shape of {dtype} needs {needed}."
    return tensor
