"""Per-epoch history on disk (JSONL and CSV: written whole and atomically, then appended) and the progress bar."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._io import atomic_write_text
from ..errors import ConfigError
from .callbacks import Callback, TrainState


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


class HistoryWriter:
    """Keeps history.jsonl and history.csv equal to the run's rows at the cost of one appended line per epoch.

    The first write of a process (a new run, or a resumed one whose files may hold rows past its checkpoint) and any
    row with new columns rewrite both files whole and atomically; every other epoch appends its row.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.columns: list[str] | None = None
        self.rows_on_disk = -1

    def write(self, rows: list[dict[str, Any]]) -> None:
        row = rows[-1]
        if self.columns is None or self.rows_on_disk != len(rows) - 1 or any(k not in self.columns for k in row):
            write_history(self.run_dir, rows)
            self.columns = _columns(rows)
        else:  # the files hold rows[:-1] under these columns
            with open(self.run_dir / "history.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            buffer = io.StringIO()
            csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n").writerow(row)
            with open(self.run_dir / "history.csv", "a", encoding="utf-8", newline="") as f:
                f.write(buffer.getvalue())
        self.rows_on_disk = len(rows)


def write_history(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """history.jsonl and history.csv, one row per epoch; rewritten whole so a resumed run never duplicates rows.

    Atomic but not fsync'ed: the checkpoint holds the same history, and a resumed run writes these files again.
    """
    atomic_write_text(run_dir / "history.jsonl", "".join(json.dumps(r) + "\n" for r in rows), durable=False)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(run_dir / "history.csv", buffer.getvalue(), durable=False)


class Progress:
    """A tqdm bar over each epoch's steps, shown only when stderr is a terminal (and `enabled`).

    The bar is redrawn at most every `interval` seconds (tqdm's default is 0.1 s; a redraw, with its values asked
    for and formatted, is costly right after a training step, whose data have left the caches), and the values
    after it (loss, accuracy, learning rate) are asked for only then, not at every step. The clock
    runs across epochs: a new epoch's bar starts with the values last shown.
    """

    def __init__(self, enabled: bool, interval: float = 0.5):
        self.enabled = enabled and sys.stderr.isatty()
        self.interval, self.shown = interval, -math.inf
        self.bar: Any = None
        self.postfix = ""  # "loss=0.25, acc=0.875, lr=0.001", as tqdm writes a postfix

    def start(self, total: int, initial: int, description: str) -> None:
        """A new bar (for an epoch of `total` steps, `initial` of them done)."""
        if self.enabled:
            from tqdm import tqdm

            self.close()
            self.bar = tqdm(
                total=total,
                initial=initial,
                desc=description,
                postfix=self.postfix or None,  # a string, shown as it is
                leave=False,
                dynamic_ncols=True,
                mininterval=self.interval,
            )

    def update(self, steps: int, values: Callable[[], dict[str, float]]) -> None:
        if self.bar is None:
            return
        now = time.monotonic()
        if now - self.shown >= self.interval:
            self.postfix = ", ".join(f"{k}={v:.4g}" for k, v in values().items())
            self.bar.set_postfix_str(self.postfix, refresh=False)
            self.shown = now
        self.bar.update(steps)

    def close(self) -> None:
        """Take the bar off the screen (before a log line)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class TensorBoardLogger(Callback):
    """Per-step loss, learning rate and gradient norm, and every per-epoch value, as TensorBoard scalars."""

    def __init__(self, log_dir: Path, every: int = 10):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
        self.writer = SummaryWriter(str(log_dir))
        self.every = every

    def on_step_end(self, state: TrainState) -> None:
        if state.step % self.every == 0:
            for key in ("loss", "lr", "grad_norm"):
                self.writer.add_scalar(f"step/{key}", state.metrics[key], state.step)

    def on_epoch_end(self, state: TrainState) -> None:
        for key, value in state.metrics.items():
            if key.startswith(("train_", "val_")):
                self.writer.add_scalar(f"epoch/{key}", value, state.epoch)
        self.writer.flush()

    def on_train_end(self, state: TrainState) -> None:
        self.writer.close()
