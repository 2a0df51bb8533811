"""Scanning a safetensors file's tensor values in place: non-finite counts and all-zero tests.

The safetensors README says tensor values are not checked ("NaN and +/-Inf could be in the
file"), so the stream (``artifacts.inspection.safetensors_stream``) hands each piece of the data
section here as it arrives: numpy reads the bytes where they lie, a block at a time, into
buffers reused per thread, so no piece is copied and a large adapter scans at memory speed.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

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
