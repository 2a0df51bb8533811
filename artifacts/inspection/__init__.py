"""Adapter inspection: know what the cluster produced before anyone downloads it (DESIGN §10)."""

from artifacts.inspection.card import model_card
from artifacts.inspection.inspector import AdapterInspector, inspect_files, inspect_storage
from artifacts.inspection.safetensors_stream import SafetensorsStream

__all__ = ["AdapterInspector", "SafetensorsStream", "inspect_files", "inspect_storage", "model_card"]
