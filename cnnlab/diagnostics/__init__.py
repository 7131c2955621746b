"""Diagnostics: see gradients vanish or explode, ReLUs die and activations saturate while a network trains.

`Diagnostics(model, optimizer, every=10)` watches any PyTorch loop through hooks; cnnlab's trainer attaches it
with `cnnlab.engine.DiagnosticsCallback` (this package imports nothing of the engine). Records, conclusions, the
per-layer table and the pictures are plain functions of the records, usable on a `records.csv` read back with
`read_records`.
"""

from .findings import Finding, Thresholds, depth_ratio, find_problems, format_findings
from .recorder import Diagnostics
from .records import LayerRecord, read_records, records_to_csv
from .summary import LayerSummary, format_layer_summary, layer_summary

__all__ = [
    "Diagnostics",
    "Finding",
    "LayerRecord",
    "LayerSummary",
    "Thresholds",
    "depth_ratio",
    "find_problems",
    "format_findings",
    "format_layer_summary",
    "layer_summary",
    "read_records",
    "records_to_csv",
]
