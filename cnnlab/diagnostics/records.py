"""One row per (sampled step, layer): what the diagnostics measured, as plain values, and its CSV form."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import ConfigError


@dataclass(frozen=True)
class LayerRecord:
    """A layer's statistics at one sampled optimizer step. None means "does not apply to this layer".

    Norms are Euclidean over all of the layer's own trainable parameters together (weight and bias).
    """

    step: int  # index of the optimizer step (0 = the first step taken while attached, plus start_step)
    layer: str  # module name, as in model.named_modules()
    layer_type: str  # module class name: 'Linear', 'ReLU' …
    depth: int  # position in the order layers ran in the forward pass (0 = input side)
    grad_norm: float | None = None  # ‖∂loss/∂θ‖ as the optimizer received it (after AMP unscaling and clipping)
    weight_norm: float | None = None  # ‖θ‖ before the step
    update_ratio: float | None = None  # ‖θ_after − θ_before‖ / ‖θ_before‖ (NaN when θ_before = 0)
    act_mean: float | None = None  # mean of the layer's output over the batch (all samples, units, positions)
    act_std: float | None = None  # population std of the same values
    dead_fraction: float | None = None  # ReLU family: units whose output is 0 for every sample of the batch
    negative_fraction: float | None = None  # Leaky ReLU family: units negative for every sample of the batch
    saturated_fraction: float | None = None  # sigmoid/tanh family: outputs with f' below the threshold

    @property
    def has_params(self) -> bool:
        """True for layers with trainable parameters (those that have a weight norm)."""
        return self.weight_norm is not None


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(LayerRecord))
_INTS = ("step", "depth")
_STRS = ("layer", "layer_type")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest exact form; 'inf' and 'nan' are read back by float()
    return str(value)


def records_to_csv(records: Iterable[LayerRecord]) -> str:
    """CSV text with a header of `FIELDS`; an empty cell is None, floats are written exactly (repr)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIELDS)
    for record in records:
        writer.writerow([_cell(getattr(record, name)) for name in FIELDS])
    return buffer.getvalue()


def read_records(path: str | Path) -> tuple[LayerRecord, ...]:
    """Read a `records.csv` written by `Diagnostics.save` back into records.

    Args:
        path: the CSV file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read diagnostics records {path}: {e.strerror}") from e
    rows = csv.DictReader(io.StringIO(text))
    if tuple(rows.fieldnames or ()) != FIELDS:
        raise ConfigError(f"{path} is not a diagnostics records file: its header is not {','.join(FIELDS)}")
    records = []
    for line, row in enumerate(rows, start=2):
        try:
            values = {
                name: int(cell) if name in _INTS else cell if name in _STRS else None if cell == "" else float(cell)
                for name, cell in row.items()
            }
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{path}, line {line}: {e}") from e
        records.append(LayerRecord(**values))
    return tuple(records)


def finite(value: float | None) -> bool:
    """True for a measured, finite number."""
    return value is not None and math.isfinite(value)
