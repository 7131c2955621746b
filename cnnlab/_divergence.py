"""When a training run has diverged: the one rule, and the one line that says so, of both engines.

A run stops in the step where, before its update,
- the loss or the gradient is NaN or infinite (always checked), or
- the loss exceeds `FACTOR` times the run's reference loss (the divergence guard; on by default).

The reference is the loss of the run's first step, the untrained model's, or log K for softmax cross-entropy over K
classes when that is larger (a floor for a first step that happens to fit its batch well). A loss ten thousand times
it means outputs off by thousands: a healthy run stays within about ten times its reference, and the single
overshoot of a learning rate too large to learn anything within about a thousand, while weights that blow up pass
ten thousand times it within a few steps. The first step itself is never stopped for its size: an initialization
that starts far off (`--init he:2.0`) only raises the reference.

Torch-free, so the NumPy reference (`cnnlab.scratch`) and the torch trainer share it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .errors import TrainingDiverged

FACTOR = 10_000.0  # a step's loss this many times the reference stops the run


class DivergenceGuard:
    """Checks each step's loss and gradient before the update and raises `TrainingDiverged` with one line.

    Args:
        enabled: the loss-ratio check (`--no-divergence-guard` turns it off); NaN and infinity are always checked.
        classes: K for softmax cross-entropy over K classes, whose log K is the least reference (None: no floor).
        cure: what the message suggests, e.g. "lower --lr or clip gradients (--clip-norm 1)".
        reference: the first step's loss of a resumed run (None: the next step's loss becomes it).
    """

    def __init__(self, *, enabled: bool = True, classes: int | None = None, cure: str = "lower --lr",
                 reference: float | None = None):  # fmt: skip
        self.enabled = enabled
        self.classes = classes
        self.floor = math.log(classes) if classes is not None and classes >= 2 else 0.0
        self.cure = cure
        self.reference = reference

    @property
    def limit(self) -> float:
        """The loss above which the run stops (infinity until the reference is known, or with the check off)."""
        if not self.enabled or self.reference is None:
            return math.inf
        return FACTOR * max(self.reference, self.floor)

    def check(self, loss: float, *, step: int, epoch: int, lr: float, gradient_finite: bool = True,
              detail: Callable[[], str] | None = None) -> None:  # fmt: skip
        """Raise `TrainingDiverged` when step `step` (1-based, of epoch `epoch`) must not be taken.

        `detail` is asked for only when the run stops, e.g. for the parameter with the largest gradient."""
        if not math.isfinite(loss) or not gradient_finite:
            what = "loss" if not math.isfinite(loss) else "gradient"
            raise self._error(step, epoch, f"the {what} is not finite (loss {loss:.4g}, lr {lr:.4g})", detail)
        if loss > self.limit:
            if self.reference >= self.floor:
                base = f"{self.reference:.4g}, the first step's loss"
            else:
                base = f"{self.floor:.4g}, log {self.classes} for {self.classes} classes"
            what = f"training diverged: the loss {loss:.4g} passed {FACTOR:g} × {base} (lr {lr:.4g})"
            raise self._error(step, epoch, what, detail, off=True)
        if self.reference is None and loss > 0:
            self.reference = loss

    def _error(self, step: int, epoch: int, what: str, detail: Callable[[], str] | None, *, off: bool = False):
        parts = [f"step {step} (epoch {epoch}): {what}"]
        if detail is not None:
            parts.append(detail())
        off_switch = ", or turn this check off with --no-divergence-guard (divergence_guard=False)"
        parts.append(self.cure + (off_switch if off else ""))
        return TrainingDiverged("; ".join(parts))
