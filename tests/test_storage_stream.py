"""The stream adapter boto3 reads an upload from: every byte once, in order, whatever the read sizes."""

from __future__ import annotations

import io

import pytest

from artifacts.storage import ChunkReader

CHUNKS = [b"abc", b"", bytearray(b"defgh"), memoryview(b"ij"), b"k" * 10]
WHOLE = b"abcdefghij" + b"k" * 10


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 64])
def test_reads_of_any_size_return_the_stream_in_order(size):
    reader = ChunkReader(iter(CHUNKS))
    parts = list(iter(lambda: reader.read(size), b""))
    assert b"".join(parts) == WHOLE
    assert all(len(part) == size for part in parts[:-1])  # full reads until the end


def test_readinto_fills_the_callers_buffer():
    reader = ChunkReader(iter(CHUNKS))
    out = bytearray()
    buffer = bytearray(4)
    while n := reader.readinto(buffer):
        out += buffer[:n]
    assert bytes(out) == WHOLE


def test_a_whole_chunk_asked_for_is_handed_over_without_a_copy():
    chunk = b"x" * 1024
    assert ChunkReader(iter([chunk])).read(1024) is chunk


def test_read_all_and_buffered_reading():
    assert ChunkReader(iter(CHUNKS)).read() == WHOLE
    assert io.BufferedReader(ChunkReader(iter(CHUNKS))).read() == WHOLE
