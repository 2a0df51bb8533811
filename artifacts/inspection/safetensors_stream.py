"""Validate a safetensors file and scan its values as its bytes arrive, in bounded memory.

:class:`SafetensorsStream` takes the file's bytes in order. The length prefix and the header are
buffered and read by ``artifacts.inspection.safetensors_header`` (the format, its limits, each
tensor entry); then the stream checks the data section's layout (safetensors/src/tensor.rs):
offsets are relative to the data section and must cover it contiguously from 0 without holes or
overlaps (``InvalidOffset``), and the file must be exactly 8 + N + last end bytes long
(``MetadataIncompleteBuffer``, which catches truncation). Upstream refuses a header over
100,000,000 bytes, so that is the most this module ever buffers. The values are scanned by
``artifacts.inspection.safetensors_values``: non-finite counts for float dtypes and all-zero
detection.

Data bytes are inspected chunk by chunk and dropped, with at most one element's worth of bytes
(< 8) carried across a chunk boundary.
"""

from __future__ import annotations

import struct

from artifacts.inspection.safetensors_header import MAX_HEADER_SIZE, TensorInfo, collector_paused, read_header
from artifacts.inspection.safetensors_values import ELEMENT_SIZE, all_zero_values, count_nonfinite

MAX_ERRORS = 5


def _runs(ordered: list[TensorInfo]) -> list[tuple[str, int]]:
    """``(dtype, end)`` of each run of consecutive same-dtype tensors, in data-section order."""
    runs: list[tuple[str, int]] = []
    for tensor in ordered:
        if runs and runs[-1][0] == tensor.dtype:
            runs[-1] = (tensor.dtype, tensor.end)
        else:
            runs.append((tensor.dtype, tensor.end))
    return runs


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
        header = read_header(self._take_buffer())  # no copy, and no reference kept while it parses
        self.tensors = header.tensors
        if header.metadata is not None:
            self.metadata = header.metadata
        if header.error:
            self._fail(header.error)
            return
        self._check_layout()

    def _take_buffer(self) -> bytearray:
        raw, self._buffer = self._buffer, bytearray()
        return raw

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
