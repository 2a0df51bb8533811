"""Validate a safetensors file and scan its values as its bytes arrive, in bounded memory.

The format (safetensors README "Format"; safetensors/src/tensor.rs): an 8-byte little-endian
unsigned length N, N bytes of UTF-8 JSON starting with ``{`` (may be space-padded, no repeated
keys) mapping tensor names to ``{"dtype", "shape", "data_offsets": [begin, end]}`` plus an
optional ``__metadata__`` string map, then the data section. Offsets are relative to the data
section, must cover it contiguously from 0 without holes or overlaps (``InvalidOffset``), each
span must equal numel x dtype size (``TensorInvalidInfo``) and the file must be exactly
8 + N + last end bytes long (``MetadataIncompleteBuffer``, which catches truncation). Upstream
refuses N above 100,000,000 (``MAX_HEADER_SIZE``), so that is the most this module ever buffers.
The README also says tensor values are not checked ("NaN and +/-Inf could be in the file"), so
the values are scanned here: non-finite counts for float dtypes and all-zero detection.

Only the header is buffered; data bytes are inspected chunk by chunk and dropped, with at most
one element's worth of bytes (< 8) carried across a chunk boundary.
"""

from __future__ import annotations

import gc
import json
import re
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_HEADER_SIZE = 100_000_000  # safetensors/src/tensor.rs MAX_HEADER_SIZE
MAX_DIMENSIONS = 64
# Parsing turns every JSON item into a Python object several times its text size; a header of
# tiny items ("0,0,0,...") would cost gigabytes. Real adapters list a few thousand tensors at
# most (about five items each), so a million items is generous and keeps parsing bounded.
MAX_HEADER_ITEMS = 1_000_000
MAX_ERRORS = 5

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


# In the IEEE 754 formats (and bfloat16 and F8_E5M2, built the same way) a float is NaN or
# infinite exactly when its exponent bits are all ones (IEEE 754-2019 §3.4), that is when its bits
# with the sign cleared, read as an unsigned integer, are at least those of +inf. F8_E4M3 (the
# "fn" variant of the OCP 8-bit floats) has no inf and one NaN, S.1111.111: the same test with
# 0x7F. Per dtype: the unsigned view, the mask that clears the sign, the first non-finite pattern.
NONFINITE_FROM: dict[str, tuple[np.dtype[Any], int, int]] = {
    "F64": (np.dtype("<u8"), 0x7FFF_FFFF_FFFF_FFFF, 0x7FF0_0000_0000_0000),
    "F32": (np.dtype("<u4"), 0x7FFF_FFFF, 0x7F80_0000),
    "BF16": (np.dtype("<u2"), 0x7FFF, 0x7F80),
    "F16": (np.dtype("<u2"), 0x7FFF, 0x7C00),
    "F8_E5M2": (np.dtype("u1"), 0x7F, 0x7C),
    "F8_E4M3": (np.dtype("u1"), 0x7F, 0x7F),
}
# Bytes per element of the dtypes whose values are scanned.
ELEMENT_SIZE = {dtype: view.itemsize for dtype, (view, _, _) in NONFINITE_FROM.items()}
# Compared against with ``startswith`` (a memcmp, no copy), the fastest all-zero test the standard
# library offers.
_ZEROS = bytes(1024 * 1024)
_ZEROS_VIEW = memoryview(_ZEROS)


# Values are checked this many at a time, into buffers reused per thread (a quarter of a MiB of
# flags, half a MiB of 16-bit patterns at most), so the scan makes no copy of a chunk.
SCAN_ELEMENTS = 256 * 1024
# numpy's isfinite is vectorised for these; for the narrower formats the bit test is faster.
NATIVE_FLOATS: dict[str, np.dtype[Any]] = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_scratch = threading.local()


def _scratch_for(dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    buffers = _scratch.__dict__.setdefault("buffers", {})
    if dtype not in buffers:
        buffers[dtype] = np.empty(SCAN_ELEMENTS, dtype=dtype)
    return buffers[dtype]


def count_nonfinite(dtype: str, data: bytes, start: int = 0, stop: int | None = None) -> int:
    """Non-finite elements in ``data[start:stop]`` (whole elements only, little-endian).

    numpy reads the bytes in place, a block at a time: F32 and F64 through ``isfinite``, the
    others by clearing the sign bits and comparing with the first non-finite pattern. A block's
    ``all``/``max`` rules out the common all-finite case, so only a block that has some is counted.
    """
    view, magnitude, first = NONFINITE_FROM[dtype]
    stop = len(data) if stop is None else stop
    count = (stop - start) // view.itemsize
    if count <= 0:
        return 0
    native = NATIVE_FLOATS.get(dtype)
    values = np.frombuffer(data, dtype=native or view, count=count, offset=start)
    scratch = _scratch_for(np.dtype(bool) if native is not None else view)
    mask = view.type(magnitude)
    found = 0
    for begin in range(0, count, SCAN_ELEMENTS):
        block = values[begin : begin + SCAN_ELEMENTS]
        out = scratch[: len(block)]
        if native is not None:
            np.isfinite(block, out=out)
            if not out.all():
                found += len(block) - int(np.count_nonzero(out))
        else:
            np.bitwise_and(block, mask, out=out)
            if out.max() >= first:
                found += int(np.count_nonzero(out >= first))
    return found


# Clears a float's sign bit in its top byte: -0.0 is zero too (an all -0.0 lora_B does nothing).
_CLEAR_SIGN = bytes(value & 0x7F for value in range(256))


def all_zero_values(dtype: str, data: bytes, phase: int = 0, start: int = 0, stop: int | None = None) -> bool:
    """Whether every element of ``data[start:stop]`` is zero, with ``+0.0`` and ``-0.0`` alike for float dtypes.

    ``phase`` is the offset of ``data[start]`` within its element (a piece may start mid-element).
    Trained weights show a non-zero byte at once, so the common answer costs a few bytes' compare.
    """
    stop = len(data) if stop is None else stop
    if all_zero(data, start, stop):
        return True
    size = ELEMENT_SIZE.get(dtype)
    if size is None:
        return False
    sign = (size - 1 - phase) % size
    head = bytearray(data[start : min(stop, start + 64)])
    head[sign::size] = head[sign::size].translate(_CLEAR_SIGN)
    if any(head):
        return False
    cleared = bytearray(data[start:stop])  # only a piece of zeros and -0.0 so far gets here
    cleared[sign::size] = cleared[sign::size].translate(_CLEAR_SIGN)
    return all_zero(cleared)


def all_zero(data: bytes | bytearray, start: int = 0, stop: int | None = None) -> bool:
    """Whether every byte of ``data[start:stop]`` is zero, compared a megabyte at a time in place."""
    stop = len(data) if stop is None else stop
    window = len(_ZEROS)
    for offset in range(start, stop, window):
        if not data.startswith(_ZEROS_VIEW[: min(window, stop - offset)], offset):
            return False
    return True


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


def _runs(ordered: list[TensorInfo]) -> list[tuple[str, int]]:
    """``(dtype, end)`` of each run of consecutive same-dtype tensors, in data-section order."""
    runs: list[tuple[str, int]] = []
    for tensor in ordered:
        if runs and runs[-1][0] == tensor.dtype:
            runs[-1] = (tensor.dtype, tensor.end)
        else:
            runs.append((tensor.dtype, tensor.end))
    return runs


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


class SafetensorsStream:
    """Feed the file's bytes in order with :meth:`feed`, then call :meth:`finish`."""

    def __init__(self, expected_size: int | None = None):
        self.expected_size = expected_size
        self.errors: list[str] = []
        self.tensors: list[TensorInfo] = []
        self.metadata: dict[str, str] = {}
        self.header_size: int | None = None
        self.data_size: int | None = None
        self.received = 0
        self.finished = False
        self._phase = "prefix"  # prefix -> header -> data; "stopped" once the structure is broken
        self._buffer = bytearray()
        self._ordered: list[TensorInfo] = []
        self._index = 0
        self._position = 0  # bytes of the data section consumed
        self._carry = b""
        self._extra = 0
        self._shapes: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._runs: list[tuple[str, int]] = []  # (dtype, end) of each run of same-dtype tensors
        self._run = 0

    @property
    def valid(self) -> bool:
        return not self.errors

    def _fail(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)
        self._phase = "stopped"

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        view = memoryview(chunk).cast("B")
        self.received += len(view)
        while len(view) and self._phase in ("prefix", "header"):
            wanted = 8 if self._phase == "prefix" else (self.header_size or 0)
            take = wanted - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) == wanted:
                if self._phase == "prefix":
                    self._read_prefix()
                else:
                    with collector_paused():
                        self._read_header()
        if len(view) and self._phase == "data":
            # The data section is scanned by offsets into the chunk itself: no copy per piece.
            data = chunk if isinstance(chunk, bytes) else view.tobytes()
            self._scan(data, len(data) - len(view))

    def _read_prefix(self) -> None:
        (length,) = struct.unpack("<Q", bytes(self._buffer))
        self._buffer = bytearray()
        self.header_size = length
        if length < 2:
            self._fail(f"The header length is {length} bytes, too short for a JSON object.")
        elif length > MAX_HEADER_SIZE:
            self._fail(f"The header length claims {length:,} bytes, above the format's limit of 100,000,000.")
        elif self.expected_size is not None and 8 + length > self.expected_size:
            self._fail(f"The header length claims {length:,} bytes but the whole file is {self.expected_size:,}.")
        else:
            self._phase = "header"

    def _read_header(self) -> None:
        raw, self._buffer = self._buffer, bytearray()  # no copy: the text is decoded from it once
        if not raw.startswith(b"{"):
            self._fail("The header does not start with '{', so it is not a JSON object.")
            return
        if raw.count(b",") > MAX_HEADER_ITEMS:
            self._fail(f"The header lists more than {MAX_HEADER_ITEMS:,} items, far more than any adapter has.")
            return
        metadata: object = {}
        repeated: str | None = None  # a key the top level repeats (the first one)
        problem = ""  # what is wrong with the first invalid tensor entry
        seen: set[str] = set()
        try:
            text = raw.decode("utf-8")
            del raw
            for key, value in _top_level(text):  # each entry is dropped once its record is made
                if key in seen:
                    repeated = repeated or key
                elif key == "__metadata__":
                    metadata = value
                elif not problem and repeated is None:
                    made = self._tensor(key, value)
                    if isinstance(made, str):
                        problem = made
                    else:
                        self.tensors.append(made)
                seen.add(key)
            del text
        except _Duplicate as error:
            self._fail(f"The header is invalid: {error}.")
            return
        except (UnicodeDecodeError, ValueError, RecursionError):
            self._fail("The header is not valid UTF-8 JSON.")
            return
        if repeated is not None:
            self._fail(f"The header is invalid: the header repeats the key {repeated!r}.")
            return
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            self._fail("The header's __metadata__ is not a map of strings.")
            return
        self.metadata = metadata
        if problem:
            self._fail(problem)
            return
        self._check_layout()

    def _tensor(self, name: str, entry: object) -> TensorInfo | str:
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
        tensor = TensorInfo(name, _DTYPE_NAMES[dtype], self._shapes.setdefault(dims, dims), begin, end)
        bits = tensor.numel * DTYPE_BITS[dtype]
        if bits % 8 or bits // 8 != end - begin:
            needed = f"{bits / 8:,.0f}" if bits < 8 * 10**15 else f"{bits / 8:.3g}"
            return f"Tensor {name!r} spans {end - begin:,} bytes but its shape of {dtype} needs {needed}."
        return tensor

    def _check_layout(self) -> None:
        self._ordered = sorted(self.tensors, key=lambda t: (t.begin, t.end))
        expected = 0
        for tensor in self._ordered:
            if tensor.begin != expected:
                problem = "overlaps the previous tensor" if tensor.begin < expected else "leaves a hole before it"
                self._fail(f"Tensor {tensor.name!r} starts at byte {tensor.begin:,} and {problem}.")
                return
            expected = tensor.end
        self.data_size = expected
        total = 8 + (self.header_size or 0) + expected
        if self.expected_size is not None and self.expected_size != total:
            self._fail(f"The header describes a {total:,}-byte file but the file is {self.expected_size:,} bytes.")
            return
        self._runs = _runs(self._ordered)
        self._phase = "data"

    def _scan(self, data: bytes, begin: int) -> None:
        """Scan ``data[begin:]``, the next bytes of the data section, a run of same-dtype tensors at a time.

        Tensors of one dtype that follow each other share one element grid (each spans a whole
        number of elements), so a run's piece is searched for non-finite values in one pass; only a
        piece that has some is counted again tensor by tensor, to say which tensors they are in.
        """
        runs = self._runs
        while begin < len(data):
            if self._run >= len(runs):
                self._extra += len(data) - begin
                return
            dtype, run_end = runs[self._run]
            stop = min(len(data), begin + run_end - self._position)
            offset = self._position - begin  # data-section position of data[0] for this piece
            size = ELEMENT_SIZE.get(dtype)
            if size is not None:
                self._count_nonfinite(dtype, size, data, begin, stop, offset)
            self._scanned(dtype, size or 1, data, stop, offset)
            self._position += stop - begin
            begin = stop
            if self._position >= run_end:
                self._run += 1

    def _scanned(self, dtype: str, size: int, data: bytes, stop: int, offset: int) -> None:
        """Count the piece ending at ``data[stop]`` into each tensor it covers; judge all-zero."""
        end = stop + offset
        ordered = self._ordered
        index = self._index
        while index < len(ordered):
            tensor = ordered[index]
            if tensor.begin >= end:
                break
            first = tensor.begin + tensor.scanned
            last = min(tensor.end, end)
            if tensor.all_zero and last > first:
                phase = (first - tensor.begin) % size
                tensor.all_zero = all_zero_values(dtype, data, phase, first - offset, last - offset)
            tensor.scanned += last - first
            if tensor.end > end:
                break
            index += 1
        self._index = index

    def _count_nonfinite(self, dtype: str, size: int, data: bytes, begin: int, stop: int, offset: int) -> None:
        """Add the non-finite elements of ``data[begin:stop]`` (and of an element split before it)."""
        if self._carry:  # finish the element the previous piece split
            need = min(size - len(self._carry), stop - begin)
            self._carry += data[begin : begin + need]
            begin += need
            if len(self._carry) < size:
                return
            count = count_nonfinite(dtype, self._carry)
            if count:
                self._tensor_at(begin + offset - 1).nonfinite += count
            self._carry = b""
        whole = stop - (stop - begin) % size
        if whole > begin and count_nonfinite(dtype, data, begin, whole):
            for index in range(self._index, len(self._ordered)):  # rare: say which tensors hold them
                tensor = self._ordered[index]
                first, last = max(tensor.begin, begin + offset), min(tensor.end, whole + offset)
                if first >= whole + offset:
                    break
                if last > first:
                    tensor.nonfinite += count_nonfinite(dtype, data, first - offset, last - offset)
        if whole < stop:
            self._carry = data[whole:stop]

    def _tensor_at(self, position: int) -> TensorInfo:
        """The tensor holding data-section byte ``position`` (one the scan has reached)."""
        for index in range(self._index, len(self._ordered)):
            tensor = self._ordered[index]
            if tensor.begin <= position < tensor.end:
                return tensor
        raise AssertionError(f"no tensor holds byte {position}")  # the layout was checked contiguous

    def finish(self) -> None:
        """Judge the file's length once every byte has been fed."""
        if self.finished:
            return
        self.finished = True
        if self._phase == "prefix":
            self._fail(f"The file is {self.received} bytes, shorter than the 8-byte header length.")
        elif self._phase == "header":
            got = self.received - 8
            self._fail(f"The file ends inside its header ({got:,} of {self.header_size:,} bytes).")
        elif self._phase == "data":
            total = 8 + (self.header_size or 0) + (self.data_size or 0)
            if self._position < (self.data_size or 0):
                self._fail(f"The file is truncated: {self.received:,} of {total:,} bytes.")
            elif self._extra:
                self._fail(f"The file has {self._extra:,} bytes after the last tensor (expected {total:,} bytes).")
