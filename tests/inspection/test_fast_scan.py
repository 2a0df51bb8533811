"""The value scan agrees with a reference computed on the decoded values, wherever the chunks split."""

from __future__ import annotations

import numpy as np
import pytest

from artifacts.inspection.safetensors_stream import SafetensorsStream
from artifacts.inspection.safetensors_values import SCAN_ELEMENTS, all_zero_values, count_nonfinite
from tests.adapter_files import bf16_bytes, raw_safetensors

SPECIALS = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 65504.0, -65504.0, 1e38, -1e38], dtype=np.float32)


def random_values(rng: np.random.Generator, count: int) -> np.ndarray:
    values = rng.standard_normal(count).astype(np.float32)
    picks = rng.random(count) < 0.2  # plenty of specials, many of them next to each other
    values[picks] = rng.choice(SPECIALS, int(picks.sum()))
    return values


def encode(values: np.ndarray, dtype: str) -> bytes:
    if dtype == "BF16":
        return bf16_bytes(values)
    with np.errstate(over="ignore"):
        return values.astype({"F32": np.float32, "F16": np.float16, "F64": np.float64}[dtype]).tobytes()


def reference(values: np.ndarray, dtype: str) -> tuple[int, bool]:
    """Non-finite count and all-zero, computed on the decoded values."""
    if dtype == "BF16":
        decoded = (values.astype(np.float32).view(np.uint32) & 0xFFFF0000).view(np.float32)
    else:
        with np.errstate(over="ignore"):
            decoded = values.astype({"F32": np.float32, "F16": np.float16, "F64": np.float64}[dtype])
    return int((~np.isfinite(decoded)).sum()), bool(np.all(decoded == 0))


def scan(blob: bytes, chunk: int) -> SafetensorsStream:
    """The finished stream after ``blob`` is fed ``chunk`` bytes at a time."""
    stream = SafetensorsStream(len(blob))
    for start in range(0, len(blob), chunk):
        stream.feed(blob[start : start + chunk])
    stream.finish()
    return stream


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16", "F64"])
@pytest.mark.parametrize("seed", range(3))
def test_count_nonfinite_matches_numpy_on_any_slice(dtype, seed):
    rng = np.random.default_rng(seed)
    values = random_values(rng, 5000)
    raw = encode(values, dtype)
    size = len(raw) // len(values)
    assert count_nonfinite(dtype, raw) == reference(values, dtype)[0]
    for _ in range(20):
        first, last = sorted(int(i) for i in rng.integers(0, len(values), 2))
        assert count_nonfinite(dtype, raw, first * size, last * size) == reference(values[first:last], dtype)[0]


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16", "F64"])
def test_count_nonfinite_across_scan_blocks(dtype):
    """Values are checked a block at a time: specials at each block's first and last element, in
    an otherwise finite block and in a last, partial block, are each counted once."""
    size = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8}[dtype]
    per_block = SCAN_ELEMENTS
    values = np.full(per_block * 3 + 5, 0.5, dtype=np.float32)
    values[[per_block - 1, per_block, 2 * per_block - 1, len(values) - 1]] = [np.nan, np.inf, -np.inf, np.nan]
    raw = encode(values, dtype)
    assert count_nonfinite(dtype, raw) == 4
    assert count_nonfinite(dtype, raw, size, (per_block + 1) * size) == 2  # a slice across one boundary
    assert count_nonfinite(dtype, raw, (2 * per_block) * size) == 1  # only the last, partial block


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16"])
def test_negative_zero_counts_as_zero(dtype):
    zeros = np.array([-0.0, 0.0, -0.0, -0.0], dtype=np.float32)
    raw = encode(zeros, dtype)
    assert all_zero_values(dtype, raw)
    size = len(raw) // 4
    assert all_zero_values(dtype, raw[1:], phase=1)  # a piece that starts mid-element
    assert not all_zero_values(dtype, encode(np.array([0.0, 0.0, 1e-3, -0.0], dtype=np.float32), dtype))
    assert not all_zero_values("I32", np.array([0, -(2**31)], dtype=np.int32).tobytes())  # no sign rule for ints
    assert size in (2, 4)


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16"])
@pytest.mark.parametrize("chunk", [1, 3, 5, 7, 64, 4093, 65536])
def test_streamed_tensors_match_the_reference_at_every_chunk_split(dtype, chunk):
    rng = np.random.default_rng(chunk)
    tensors = {
        "a": random_values(rng, 3001),  # odd sizes: tensor boundaries fall mid-chunk
        "zero": np.zeros(517, dtype=np.float32),
        "negzero": -np.zeros(263, dtype=np.float32),
        "finite": rng.standard_normal(1999).astype(np.float32),
        "tail": random_values(rng, 7),
    }
    header: dict[str, object] = {}
    data = b""
    for name, values in tensors.items():
        raw = encode(values, dtype)
        header[name] = {"dtype": dtype, "shape": [len(values)], "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    header["__metadata__"] = {"pad": "x" * int(rng.integers(0, 7))}  # misalign the data section
    stream = scan(raw_safetensors(header, data), chunk)
    assert stream.valid, stream.errors
    got = {t.name: (t.nonfinite, t.all_zero) for t in stream.tensors}
    assert got == {name: reference(values, dtype) for name, values in tensors.items()}
    assert got["a"][0] > 0 and got["zero"][1] and got["negzero"][1] and not got["finite"][1]


@pytest.mark.parametrize("chunk", [1, 3, 6, 4093, 65536])
def test_mixed_dtypes_and_empty_tensors_keep_each_tensors_own_counts(chunk):
    """Runs of one dtype are scanned together; each tensor still gets exactly its own counts."""
    rng = np.random.default_rng(chunk)
    layout = [
        ("f32_a", "F32", random_values(rng, 301)),
        ("f32_b", "F32", rng.standard_normal(77).astype(np.float32)),
        ("empty", "F32", np.zeros(0, dtype=np.float32)),
        ("f32_c", "F32", random_values(rng, 129)),
        ("bf16_zero", "BF16", -np.zeros(40, dtype=np.float32)),
        ("bf16_a", "BF16", random_values(rng, 55)),
        ("odd_bytes", "I8", None),  # 3 bytes: every element after it starts off a 4-byte boundary
        ("f16_a", "F16", random_values(rng, 91)),
        ("f32_zero", "F32", np.zeros(33, dtype=np.float32)),
        ("f32_d", "F32", random_values(rng, 64)),
    ]
    header: dict[str, object] = {}
    data = b""
    expected: dict[str, tuple[int, bool]] = {}
    for name, dtype, values in layout:
        if values is None:
            raw, count, expected[name] = b"\x01\x00\x02", 3, (0, False)
        else:
            raw, count, expected[name] = encode(values, dtype), len(values), reference(values, dtype)
        header[name] = {"dtype": dtype, "shape": [count], "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    stream = scan(raw_safetensors(header, data), chunk)
    assert stream.valid, stream.errors
    assert {t.name: (t.nonfinite, t.all_zero) for t in stream.tensors} == expected
    assert all(t.complete for t in stream.tensors)
    assert expected["f32_a"][0] > 0 and expected["f16_a"][0] > 0 and expected["bf16_zero"][1]
