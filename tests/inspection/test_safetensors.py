"""The streaming safetensors validator: any chunking gives the same answer, hostile headers are
rejected without allocating what they claim, and values are scanned as they pass."""

from __future__ import annotations

import json
import struct
import tracemalloc

import numpy as np
import pytest
from safetensors.numpy import save

from artifacts.inspection.safetensors_header import MAX_HEADER_SIZE
from artifacts.inspection.safetensors_stream import SafetensorsStream
from artifacts.inspection.safetensors_values import count_nonfinite
from tests.adapter_files import bf16_bytes, raw_safetensors


def stream_of(data: bytes, chunk: int, expected_size: int | None = None) -> SafetensorsStream:
    stream = SafetensorsStream(expected_size)
    for start in range(0, len(data), chunk):
        stream.feed(data[start : start + chunk])
    stream.finish()
    return stream


def mixed_file() -> bytes:
    rng = np.random.default_rng(3)
    f32 = rng.standard_normal((7, 5)).astype(np.float32)
    f32[2, 3] = np.nan
    f32[6, 4] = -np.inf
    f16 = rng.standard_normal((9, 3)).astype(np.float16)
    f16[0, 0] = np.inf
    f64 = rng.standard_normal(11)
    f64[10] = np.nan
    return save(
        {
            "a.f32": f32,
            "b.f16": f16,
            "c.zeros": np.zeros((13, 3), dtype=np.float32),
            "d.f64": f64,
            "e.int": np.arange(5, dtype=np.int64),
            "f.empty": np.zeros((0, 4), dtype=np.float32),
        },
        metadata={"format": "pt"},
    )


@pytest.mark.parametrize("chunk", [1, 7, 4096, 10**9])
def test_any_chunking_splits_prefix_header_and_elements_without_changing_the_result(chunk):
    data = mixed_file()
    stream = stream_of(data, chunk, expected_size=len(data))
    assert stream.valid, stream.errors
    by_name = {t.name: t for t in stream.tensors}
    assert {name: t.nonfinite for name, t in by_name.items()} == {
        "a.f32": 2,
        "b.f16": 1,
        "c.zeros": 0,
        "d.f64": 1,
        "e.int": 0,
        "f.empty": 0,
    }
    assert by_name["c.zeros"].all_zero and not by_name["a.f32"].all_zero
    assert by_name["a.f32"].shape == (7, 5) and by_name["a.f32"].numel == 35
    assert stream.metadata == {"format": "pt"}
    assert all(t.complete for t in stream.tensors)


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_bf16_non_finite_values_are_found_by_bit_pattern(chunk):
    values = np.array([1.0, np.nan, -2.5, np.inf, -np.inf, 0.0, 3.0e38, 1e-30], dtype=np.float32)
    data = raw_safetensors({"w": {"dtype": "BF16", "shape": [8], "data_offsets": [0, 16]}}, bf16_bytes(values))
    stream = stream_of(data, chunk)
    assert stream.valid, stream.errors
    assert stream.tensors[0].nonfinite == 3


def test_nonfinite_counter_matches_numpy_on_random_bit_patterns():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=64 * 1024, dtype=np.uint8).tobytes()
    raw = raw.replace(b"\x7f\x7f", b"\x80\x7f")  # plenty of F32/BF16 exponent-all-ones patterns
    as_f32 = np.frombuffer(raw, dtype="<f4")
    as_f16 = np.frombuffer(raw, dtype="<f2")
    as_f64 = np.frombuffer(raw, dtype="<f8")
    as_bf16 = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    assert count_nonfinite("F32", raw) == int((~np.isfinite(as_f32)).sum()) > 0
    assert count_nonfinite("F16", raw) == int((~np.isfinite(as_f16)).sum()) > 0
    assert count_nonfinite("F64", raw) == int((~np.isfinite(as_f64)).sum())
    assert count_nonfinite("BF16", raw) == int((~np.isfinite(as_bf16)).sum()) > 0


def test_nonfinite_counter_knows_the_8_bit_floats():
    """OCP 8-bit floats: E5M2 has inf and NaN (exponent 11111: four patterns a sign), E4M3fn only
    NaN (S.1111.111), so its 448 (0.1111.110) is finite."""
    every_byte = bytes(range(256))
    assert count_nonfinite("F8_E5M2", every_byte) == 8
    assert count_nonfinite("F8_E4M3", every_byte) == 2
    assert count_nonfinite("F8_E4M3", bytes([0x7E, 0xFE, 0x00])) == 0


def good_header() -> dict:
    return {
        "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]},
    }


def with_entry(**changes) -> bytes:
    header = good_header()
    header["b"] = {**header["b"], **changes}
    return raw_safetensors(header, bytes(24))


HOSTILE = {
    "huge header length": struct.pack("<Q", 2**64 - 1) + b"{}",
    "header above the format's limit": struct.pack("<Q", MAX_HEADER_SIZE + 1) + b"{" * 64,
    "header length of zero": struct.pack("<Q", 0),
    "not json": struct.pack("<Q", 4) + b"nope",
    "not an object": struct.pack("<Q", 2) + b"[]",
    "not utf-8": struct.pack("<Q", 4) + b"{\xff\xfe}",
    "duplicate key": struct.pack("<Q", 46) + b'{"a": {"dtype": "F32"}, "a": {"dtype": "F32"}}',
    "deeply nested": struct.pack("<Q", 200_001) + b"{" + b"[" * 100_000 + b"]" * 100_000,
    "unknown dtype": with_entry(dtype="F128"),
    "negative offset": with_entry(data_offsets=[-8, 24]),
    "reversed offsets": with_entry(data_offsets=[24, 16]),
    "overlapping offsets": with_entry(data_offsets=[8, 16], shape=[2]),
    "hole between tensors": raw_safetensors(
        {
            "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
            "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]},
        },
        bytes(12),
    ),
    "shape times dtype differs from span": with_entry(shape=[3]),
    "huge shape": with_entry(shape=[2**62, 2**62, 2**62]),
    "negative dimension": with_entry(shape=[-2]),
    "boolean dimension": with_entry(shape=[True, True]),
    "offsets beyond the file": with_entry(data_offsets=[16, 2**40], shape=[(2**40 - 16) // 4]),
    "metadata not strings": raw_safetensors({"__metadata__": {"format": 1}, **good_header()}, bytes(24)),
    "truncated data": raw_safetensors(good_header(), bytes(20)),
    "extra bytes after data": raw_safetensors(good_header(), bytes(30)),
    "ends inside the header": raw_safetensors(good_header(), bytes(24))[:40],
    "ends inside the length": b"\x10\x00\x00",
    "empty file": b"",
    "millions of tiny items": struct.pack("<Q", 4_000_005) + b'{"a":[' + b"0," * 1_999_998 + b"0]}",
}


EXPECTED = {
    "huge header length": "above the format's limit",
    "header above the format's limit": "above the format's limit",
    "header length of zero": "too short",
    "not json": "does not start with '{'",
    "not an object": "does not start with '{'",
    "not utf-8": "not valid UTF-8 JSON",
    "deeply nested": "not valid UTF-8 JSON",
    "duplicate key": "repeats the key 'a'",
    "unknown dtype": "unknown dtype 'F128'",
    "negative offset": "negative or reversed",
    "reversed offsets": "negative or reversed",
    "overlapping offsets": "overlaps the previous tensor",
    "hole between tensors": "leaves a hole",
    "shape times dtype differs from span": "needs 12",
    "huge shape": "spans 8 bytes",
    "negative dimension": "invalid shape",
    "boolean dimension": "invalid shape",
    "offsets beyond the file": "truncated",
    "metadata not strings": "__metadata__",
    "truncated data": "truncated: 156 of 160 bytes",
    "extra bytes after data": "6 bytes after the last tensor",
    "ends inside the header": "ends inside its header",
    "ends inside the length": "shorter than the 8-byte header length",
    "empty file": "0 bytes",
    "millions of tiny items": "more than 1,000,000 items",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("chunk", [1, 4096])
def test_hostile_or_broken_files_are_rejected_without_crashing(case, chunk):
    data = HOSTILE[case]
    if chunk == 1 and len(data) > 5000:
        chunk = 997
    stream = stream_of(data, chunk)
    assert not stream.valid
    assert EXPECTED[case] in " ".join(stream.errors)


def test_a_huge_claimed_header_is_refused_before_reading_it_when_the_file_size_is_known():
    stream = SafetensorsStream(expected_size=1_000)
    stream.feed(struct.pack("<Q", 50_000_000))
    assert not stream.valid and "whole file is 1,000" in stream.errors[0]


def test_memory_stays_bounded_while_a_large_data_section_streams():
    tensors = {f"t{i}": np.ones((256, 1024), dtype=np.float32) for i in range(16)}  # 16 MiB of data
    data = save(tensors)
    tracemalloc.start()
    stream = SafetensorsStream(len(data))
    chunk = 64 * 1024
    for start in range(0, len(data), chunk):
        stream.feed(data[start : start + chunk])
    stream.finish()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert stream.valid and len(stream.tensors) == 16
    assert peak < 2 * 1024 * 1024  # a few chunks' worth, not the 16 MiB file


def test_header_reports_json_padding_as_valid():
    header = json.dumps(good_header()).encode() + b"    "
    data = struct.pack("<Q", len(header)) + header + bytes(24)
    assert stream_of(data, 5).valid


def test_random_corruption_never_raises():
    rng = np.random.default_rng(7)
    original = bytearray(mixed_file())
    for _ in range(300):
        data = bytearray(original)
        for _ in range(int(rng.integers(1, 6))):
            position = int(rng.integers(0, len(data)))
            data[position] = int(rng.integers(0, 256))
        if rng.random() < 0.3:
            data = data[: int(rng.integers(0, len(data)))]
        stream = stream_of(bytes(data), int(rng.integers(1, 300)))
        assert stream.valid or stream.errors


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        "{ }   ",
        '{"a": {"dtype": "F32"}, "b" : [1, 2] }    ',
        '{\n\t"a":1,\r\n"b":{"c":{"d":[]}}}',
        '{"\\u00e9t\\u00e9": "x", "__metadata__": {"k": "v"}}',
        '{"a": 1,}',
        '{"a" 1}',
        '{"a": 1 "b": 2}',
        '{"a": 1} x',
        '{"a": 1}}',
        '{"a": }',
        "{a: 1}",
        '{"a": NaN}',
        '{"a": "tab\there"}',
        '{"a": 1',
        '{"a": {"x": 1, "x": 2}}',
    ],
)
def test_the_header_is_read_entry_by_entry_with_json_loads_grammar(text):
    """The header's top level is walked one entry at a time; what it accepts is what json.loads accepts."""
    from artifacts.inspection.safetensors_header import _no_duplicates, _top_level

    try:
        expected = list(json.loads(text, object_pairs_hook=_no_duplicates).items())
    except ValueError:
        expected = None
    if expected is not None:
        assert list(_top_level(text)) == expected
    else:
        with pytest.raises(ValueError):
            list(_top_level(text))
