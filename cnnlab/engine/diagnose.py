"""`DiagnosticsCallback`: the trainer's way in (`cnnlab train --diagnose`), a thin adapter over `Diagnostics`.

The glue lives in the engine so that `cnnlab.diagnostics` stays a package of hooks that knows nothing of the trainer.
"""

from __future__ import annotations

from collections.abc import Callable

from ..diagnostics import Diagnostics, Finding, Thresholds, format_findings
from ..diagnostics.recorder import check_every
from .callbacks import Callback, TrainState


class DiagnosticsCallback(Callback):
    """Attaches `Diagnostics` on rank 0 when training starts, reports warnings as they appear, saves at the end.

    Other ranks attach nothing and pay nothing. At the end of each epoch, warnings of a kind not told before are
    passed to `out`; at the end of training the remaining ones (or "no … found") are, and the records, the table
    and the pictures are written into `state.run_dir`/diagnostics/ when the run has a directory.

    Args:
        every: sample every `every`-th optimizer step.
        thresholds: when a problem is reported; `Thresholds()` unless given.
        out: where warning text goes (`print` unless given; None keeps quiet).
    """

    def __init__(
        self,
        *,
        every: int = 10,
        thresholds: Thresholds | None = None,
        out: Callable[[str], None] | None = print,
    ):
        check_every(every)
        self.every = every
        self.thresholds = thresholds
        self.out = out
        self.diagnostics: Diagnostics | None = None  # set by on_train_start on rank 0
        self._told: set[str] = set()  # codes of the warnings already passed to `out`

    def on_train_start(self, state: TrainState) -> None:
        if state.is_main:
            self.diagnostics = Diagnostics(
                state.model, state.optimizer, every=self.every, thresholds=self.thresholds, start_step=state.step
            ).attach()

    def _tell(self, findings: tuple[Finding, ...]) -> None:
        new = tuple(f for f in findings if f.code not in self._told)
        self._told.update(f.code for f in new)
        if new and self.out is not None:
            self.out(format_findings(new))

    def on_epoch_end(self, state: TrainState) -> None:
        if self.diagnostics is not None:
            self._tell(self.diagnostics.findings())

    def on_train_end(self, state: TrainState) -> None:
        if self.diagnostics is None:
            return
        self.diagnostics.detach()
        findings = self.diagnostics.findings()
        if not findings and self.out is not None:
            self.out(format_findings(()))
        self._tell(findings)
        if state.run_dir is not None:
            self.diagnostics.save(state.run_dir)
