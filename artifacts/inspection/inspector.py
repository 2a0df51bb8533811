"""Inspect an adapter while its files stream in: the one entry point ingest and re-inspection call.

    inspector = AdapterInspector()
    inspector.start_file("adapter_model.safetensors", expected_size=advertised_size)
    inspector.feed("adapter_model.safetensors", chunk)      # every chunk, as it arrives
    inspector.end_file("adapter_model.safetensors", size=bytes_received)
    ...                                                     # every file, in any order
    inspection = inspector.report(job.hyperparameters)      # DESIGN §10 ``inspection`` JSON

Memory stays bounded whatever the file sizes: the safetensors header is buffered (at most the
format's 100,000,000-byte limit, and never more than the advertised file size), data bytes are
scanned and dropped, ``adapter_config.json`` is buffered up to 1 MB, and every other file is only
counted. Nothing is unpickled: ``adapter_model.bin`` is reported by name and never read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import IO, Any, Protocol

from artifacts.inspection.checks import config_findings, extras_findings, job_findings, tensor_findings
from artifacts.inspection.findings import ERROR, Finding, findings_verdict
from artifacts.inspection.peft import AdapterConfig, TensorLayout, classify, parse_config, tensor_rank
from artifacts.inspection.safetensors_header import collector_paused
from artifacts.inspection.safetensors_stream import SafetensorsStream
from artifacts.inspection.serving import readiness

CONFIG_NAME = "adapter_config.json"
SAFETENSORS_NAME = "adapter_model.safetensors"  # peft/utils/constants.py SAFETENSORS_WEIGHTS_NAME
PICKLE_NAME = "adapter_model.bin"  # peft/utils/constants.py WEIGHTS_NAME
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
MAX_CONFIG_BYTES = 1_000_000
READ_CHUNK = 1024 * 1024


class AdapterInspector:
    """Collects what the files of one artifact say; :meth:`report` turns it into the contract JSON."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self._stream: SafetensorsStream | None = None
        self._config_bytes = bytearray()
        self._config_too_large = False

    def start_file(self, name: str, expected_size: int | None = None) -> None:
        """Begin (or begin again, after a failed transfer) the file ``name``; feed its bytes once each, in order."""
        self.sizes[name] = 0
        if name == SAFETENSORS_NAME:
            self._stream = SafetensorsStream(expected_size if isinstance(expected_size, int) else None)
        elif name == CONFIG_NAME:
            self._config_bytes = bytearray()
            self._config_too_large = False

    def feed(self, name: str, chunk: bytes | bytearray | memoryview) -> None:
        if name not in self.sizes:
            self.start_file(name)
        self.sizes[name] += len(chunk)
        if name == SAFETENSORS_NAME and self._stream is not None:
            self._stream.feed(chunk)
        elif name == CONFIG_NAME and not self._config_too_large:
            if len(self._config_bytes) + len(chunk) > MAX_CONFIG_BYTES:
                self._config_too_large = True
                self._config_bytes = bytearray()
            else:
                self._config_bytes += chunk

    def end_file(self, name: str, size: int | None = None) -> None:
        if name not in self.sizes:
            self.start_file(name)
        if size is not None:
            self.sizes[name] = size
        if name == SAFETENSORS_NAME and self._stream is not None:
            self._stream.finish()

    # --- the report --------------------------------------------------------------------------
    def _config(self) -> tuple[AdapterConfig | None, list[Finding]]:
        if CONFIG_NAME not in self.sizes:
            return None, [Finding("config_invalid", "adapter_config.json is missing, so nothing can load the adapter.")]
        if self._config_too_large:
            return None, [
                Finding("config_invalid", "adapter_config.json is larger than 1 MB, which no real config is.")
            ]
        config = parse_config(bytes(self._config_bytes))
        return (config if config.raw else None), config_findings(config)

    def report(
        self,
        job_hyperparameters: Mapping[str, Any] | None = None,
        *,
        adapter_name: str = "adapter",
        folder: str | None = None,
    ) -> dict[str, Any]:
        """DESIGN §10's ``inspection``. The serving commands name the adapter ``adapter_name`` and
        expect the downloaded files in ``folder`` (default ``./<adapter_name>``)."""
        with collector_paused():  # thousands of short-lived records, as when the header was read
            return self._report(job_hyperparameters, adapter_name, folder)

    def _report(
        self, job_hyperparameters: Mapping[str, Any] | None, adapter_name: str, folder: str | None
    ) -> dict[str, Any]:
        adapter_name = re.sub(r"[^A-Za-z0-9._-]+", "-", adapter_name).strip("-.") or "adapter"
        folder = folder or f"./{adapter_name}"
        config, findings = self._config()
        stream = self._stream
        layout: TensorLayout | None = None
        fmt: str | None = None
        if stream is not None:
            fmt = "safetensors"
            stream.finish()
            if stream.errors:
                findings.append(Finding("safetensors_invalid", " ".join(stream.errors)))
            else:
                layout = classify(stream.tensors)
                findings += tensor_findings(config, stream, layout)
        elif PICKLE_NAME in self.sizes:
            fmt = "pickle"
            findings.append(
                Finding(
                    "pickle_format",
                    "The weights are a pickle file (adapter_model.bin); it was not opened, because loading a "
                    "pickle runs code from the file. Ask for adapter_model.safetensors instead.",
                )
            )
        else:
            findings.append(
                Finding("no_adapter_weights", "There is no adapter_model.safetensors or adapter_model.bin to load.")
            )
        findings += extras_findings(config, layout)
        findings += job_findings(config, job_hyperparameters)
        pickles = sorted(
            n for n in self.sizes if (n != PICKLE_NAME or fmt == "safetensors") and n.lower().endswith(PICKLE_SUFFIXES)
        )
        if pickles:
            findings.append(Finding("pickle_files", f"{', '.join(pickles)} are pickle files: never load them blindly."))

        blockers = [f.message for f in findings if f.severity == ERROR]
        if fmt == "pickle":
            blockers.append("The pickle weights were not inspected; convert them to safetensors first.")
        return {
            "verdict": findings_verdict(findings),
            "findings": [f.as_dict() for f in findings],
            "adapter": self._facts(fmt, config, stream, layout),
            "serving": readiness(
                blockers=blockers, config=config, layout=layout, folder=folder, adapter_name=adapter_name
            ),
        }

    def _facts(
        self,
        fmt: str | None,
        config: AdapterConfig | None,
        stream: SafetensorsStream | None,
        layout: TensorLayout | None,
    ) -> dict[str, Any]:
        tensors = stream.tensors if stream is not None and stream.valid else []
        rank = config.r if config is not None else None
        if rank is None and layout is not None:
            ranks = [tensor_rank(m.a, "A") for m in layout.modules.values() if m.a is not None]
            rank = max((r for r in ranks if r), default=None)
        targets = config.target_modules if config is not None else None
        weights = SAFETENSORS_NAME if fmt == "safetensors" else PICKLE_NAME if fmt == "pickle" else None
        return {
            "format": fmt,
            "peft_type": config.peft_type if config is not None else None,
            "task_type": config.task_type if config is not None else None,
            "base_model": config.base_model if config is not None else None,
            "r": rank,
            "lora_alpha": config.lora_alpha if config is not None else None,
            "target_modules": [targets] if isinstance(targets, str) else list(targets or []),
            "tensors": len(tensors),
            "parameters": sum(t.numel for t in tensors),
            "dtypes": sorted({t.dtype for t in tensors}),
            "size": self.sizes.get(weights) if weights else None,
        }


class _Storage(Protocol):
    def open(self, name: str, mode: str = "rb") -> IO[bytes]: ...


def inspect_files(
    files: Iterable[tuple[str, IO[bytes]]],
    job_hyperparameters: Mapping[str, Any] | None = None,
    *,
    chunk_size: int = READ_CHUNK,
    **report_options: str,
) -> dict[str, Any]:
    """Inspect already-stored files, each read in ``chunk_size`` pieces (re-inspection)."""
    inspector = AdapterInspector()
    for name, handle in files:
        inspector.start_file(name, getattr(handle, "size", None))
        size = 0
        while chunk := handle.read(chunk_size):
            inspector.feed(name, chunk)
            size += len(chunk)
        inspector.end_file(name, size)
    return inspector.report(job_hyperparameters, **report_options)


def inspect_storage(
    storage: _Storage,
    keys: Mapping[str, str],
    job_hyperparameters: Mapping[str, Any] | None = None,
    *,
    chunk_size: int = READ_CHUNK,
    **report_options: str,
) -> dict[str, Any]:
    """Inspect an artifact's files from a Django storage: ``keys`` maps filename to storage key."""

    def opened() -> Iterable[tuple[str, IO[bytes]]]:
        for name, key in keys.items():
            with storage.open(key, "rb") as handle:
                yield name, handle

    return inspect_files(opened(), job_hyperparameters, chunk_size=chunk_size, **report_options)
