"""`Diagnostics`: watch gradients, weights and activations of any PyTorch training loop, with hooks only.

How it attaches (nothing in the model or the loop changes):

- `optimizer.register_step_pre_hook`: runs inside `optimizer.step()` before the update. On a sampled step it takes
  the gradient norms (as the optimizer receives them: after `GradScaler` unscaling, which `scaler.step` does before
  it calls `optimizer.step`, and after any clipping), the weight norms, and a copy of the weights.
- `optimizer.register_step_post_hook`: after the update; gives ‖Δθ‖ for the update ratio, counts the step, and
  turns the forward hooks on for the next step only when that step is sampled.
- forward hooks on the layers (see `_layers.py`), present only between the end of the step before a sampled step
  and the end of the sampled step. They record only forward passes in training mode with autograd on, so an
  evaluation under `model.eval()` or `torch.no_grad()` in between is not counted.

Unsampled steps cost two Python calls and no host-device synchronization; sampled steps keep every number on the
device until `records` is read (one transfer for all pending steps). Statistics are computed inside each forward
hook, before any later in-place operation (a foreign model's `ReLU(inplace=True)`) can overwrite the tensor, so
in-place activations are measured correctly and are left as they are. A step that `GradScaler` skips (inf/NaN
gradients under float16) calls neither hook: it is not counted, and its forward statistics merge into the next
step's. In a distributed run, attach it on rank 0 only (`DiagnosticsCallback` does): gradients are already
averaged there, activations are rank 0's share of the batch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

from .._io import atomic_path, atomic_write_text
from ..errors import ConfigError
from ._layers import Layer, OutputStats, find_layers
from .findings import Finding, Thresholds, find_problems, format_findings
from .records import LayerRecord, records_to_csv
from .summary import LayerSummary, format_layer_summary, layer_summary

PICTURES = ("grad_heatmap.png", "grad_depth.png", "units.png")


def check_every(every: object) -> None:
    """`every` must be a whole number of optimizer steps, at least 1."""
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ConfigError(f"every is a number of optimizer steps, at least 1; got {every!r}")


class Diagnostics:
    """Records per-layer gradient, weight, update and activation statistics every `every` optimizer steps.

    Use it as a context manager around any loop (or call `attach()` / `detach()`):

        with Diagnostics(model, optimizer, every=10) as diag:
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
        print(diag.report())
        diag.save("runs/exp1")

    Args:
        model: the bare model (not a DistributedDataParallel wrapper; its hooks fire through one all the same).
        optimizer: the torch optimizer that steps the model's parameters.
        every: sample steps 0, every, 2·every, … (counted from start_step).
        thresholds: when `findings()` reports a problem; `Thresholds()` unless given.
        start_step: number of the next optimizer step, when attaching to a resumed run.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        every: int = 10,
        thresholds: Thresholds | None = None,
        start_step: int = 0,
    ):
        if not isinstance(model, nn.Module):
            raise ConfigError(f"Diagnostics watches a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ConfigError(f"Diagnostics needs a torch.optim.Optimizer, got {type(optimizer).__name__}")
        check_every(every)
        if thresholds is not None and not isinstance(thresholds, Thresholds):
            raise ConfigError(f"thresholds must be a Thresholds(...), got {type(thresholds).__name__}")
        if not isinstance(start_step, int) or start_step < 0:
            raise ConfigError(f"start_step must be a non-negative integer, got {start_step!r}")
        self.model = model
        self.optimizer = optimizer
        self.every = every
        self.thresholds = thresholds or Thresholds()
        self.step = start_step  # number of the next optimizer step
        self._layers: list[Layer] = find_layers(model)
        if not self._layers:
            raise ConfigError(f"{type(model).__name__} has no trainable parameters and no activation modules to watch")
        self._params = [p for layer in self._layers for p in layer.params]
        self._owner = [i for i, layer in enumerate(self._layers) for _ in layer.params]  # param -> layer index
        self._index: torch.Tensor | None = None  # self._owner on the parameters' device
        saturation = self.thresholds.saturation_derivative
        self._stats = [OutputStats(layer.module, layer.kind, saturation) for layer in self._layers]
        self._hooks = [self._forward_hook(i) for i in range(len(self._layers))]
        self._order: list[int] = []  # layer indices in the order their forward hooks first fired
        self._ordered: set[int] = set()  # the same indices, for a fast membership test
        self._optimizer_handles: list = []
        self._forward_handles: list = []
        self._armed = False  # forward statistics of the current step are being gathered
        self._norms: tuple[torch.Tensor, torch.Tensor, frozenset[int]] | None = None  # grad², weight², no grad
        self._copy: list[torch.Tensor] | None = None  # weights before the step, kept to reuse the memory
        self._pending: list[tuple[int, torch.Tensor, list]] = []  # (step, (L, 8) tensor, host-side divisors)
        self._records: list[LayerRecord] = []

    # -- attaching ----------------------------------------------------------------------------------------------
    def attach(self) -> Diagnostics:
        """Register the optimizer hooks (and the forward hooks when the next step is sampled)."""
        if not self._optimizer_handles:
            self._optimizer_handles = [
                self.optimizer.register_step_pre_hook(self._pre_step),
                self.optimizer.register_step_post_hook(self._post_step),
            ]
            self._arm(self._sampled(self.step))
        return self

    def detach(self) -> None:
        """Remove every hook and free the weight copy; a sampled step in progress is dropped. Records stay."""
        for handle in self._optimizer_handles:
            handle.remove()
        self._optimizer_handles = []
        self._arm(False)
        self._norms = self._copy = None

    def __enter__(self) -> Diagnostics:
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    def _sampled(self, step: int) -> bool:
        return step % self.every == 0

    def _arm(self, on: bool) -> None:
        """Forward hooks on (with fresh statistics) or off; off means the model carries no hook of ours."""
        for handle in self._forward_handles:
            handle.remove()
        self._forward_handles = []
        self._armed = on
        if on:
            for stats, hook in zip(self._stats, self._hooks, strict=True):
                stats.reset()
                self._forward_handles.append(stats.module.register_forward_hook(hook))

    def _forward_hook(self, i: int):
        stats = self._stats[i]

        def hook(module: nn.Module, inputs, output) -> None:
            if not (module.training and torch.is_grad_enabled()):
                return
            if isinstance(output, torch.Tensor) and output.is_floating_point():
                if i not in self._ordered:
                    self._ordered.add(i)
                    self._order.append(i)
                stats.add(output)

        return hook

    # -- the optimizer hooks -------------------------------------------------------------------------------------
    def _per_layer_sq(self, tensors: list[torch.Tensor], index: torch.Tensor) -> torch.Tensor:
        """Sum over each layer's parameters of ‖tensor‖²: (P,) parameter norms -> (L,) per layer."""
        norms = torch._foreach_norm(tensors, 2, dtype=torch.float32)  # fused: one kernel per device and dtype
        squares = torch.stack([n.to(index.device) for n in norms]).square()
        return torch.zeros(len(self._layers), device=index.device).index_add_(0, index, squares)

    def _pre_step(self, optimizer, args, kwargs) -> None:
        if not self._sampled(self.step) or not self._params:
            return
        if self._index is None:
            self._index = torch.tensor(self._owner, device=self._params[0].device)
        with torch.no_grad():
            weights = [p.detach() for p in self._params]
            present = [i for i, p in enumerate(self._params) if p.grad is not None]
            no_grad = frozenset(range(len(self._layers))) - {self._owner[i] for i in present}
            if len(present) == len(self._params):
                grad_sq = self._per_layer_sq([p.grad for p in self._params], self._index)
            elif present:
                index = self._index[torch.tensor(present, device=self._index.device)]
                grad_sq = self._per_layer_sq([self._params[i].grad for i in present], index)
            else:
                grad_sq = torch.zeros(len(self._layers), device=self._index.device)
            self._norms = (grad_sq, self._per_layer_sq(weights, self._index), no_grad)
            if self._copy is None:
                self._copy = torch._foreach_mul(weights, 1.0)  # a copy of every weight, in one fused op
            else:
                torch._foreach_copy_(self._copy, weights)

    def _post_step(self, optimizer, args, kwargs) -> None:
        if self._sampled(self.step):
            self._finish_sampled_step()
        self.step += 1
        if self._sampled(self.step) != self._armed:
            self._arm(not self._armed)

    def _finish_sampled_step(self) -> None:
        """Stack this step's sums into one (layers, 8) tensor, left on the device until `records` is read."""
        n = len(self._layers)
        device = self._index.device if self._index is not None else torch.device("cpu")
        zero = torch.zeros((), device=device)
        no_grad: frozenset[int] = frozenset()
        with torch.no_grad():
            params = torch.zeros(n, 3, device=device)
            if self._norms is not None:
                grad_sq, weight_sq, no_grad = self._norms
                torch._foreach_sub_(self._copy, [p.detach() for p in self._params])  # θ_before − θ_after
                delta_sq = self._per_layer_sq(self._copy, self._index)
                params = torch.stack([grad_sq, weight_sq, delta_sq], dim=1)  # 3 × (L,) -> (L, 3)
            results = [stats.result() for stats in self._stats] if self._armed else [([None] * 5, [None] * 5)] * n
            cells = [zero if v is None else v.to(device) for sums, _ in results for v in sums]
            values = torch.cat([params, torch.stack(cells).view(n, 5)], dim=1)  # (L·5,) -> (L, 5); -> (L, 8)
        divisors = []
        for i, layer in enumerate(self._layers):
            has_params = bool(layer.params) and self._norms is not None
            divisors.append((has_params and i not in no_grad, has_params, results[i][1]))
        self._pending.append((self.step, values, divisors))
        self._norms = None

    # -- results -------------------------------------------------------------------------------------------------
    @property
    def records(self) -> tuple[LayerRecord, ...]:
        """Every record so far: one per (sampled step, layer), in step then forward order."""
        if self._pending:
            host = torch.stack([values.cpu() for _, values, _ in self._pending]).tolist()  # one transfer on CPU
            ranked = self._order + [i for i in range(len(self._layers)) if i not in self._ordered]
            for depth, i in enumerate(ranked):
                layer = self._layers[i]
                for (step, _, divisors), rows in zip(self._pending, host, strict=True):
                    cells = _cells(rows[i], *divisors[i])
                    self._records.append(LayerRecord(step, layer.name, type(layer.module).__name__, depth, *cells))
            self._records.sort(key=lambda r: r.step)  # stable: forward order within a step
            self._pending = []
        return tuple(self._records)

    def findings(self) -> tuple[Finding, ...]:
        """Warnings (vanishing, exploding, dead ReLUs, saturation) with their cures; see `find_problems`."""
        return find_problems(self.records, self.thresholds)

    def summary(self) -> tuple[LayerSummary, ...]:
        """The per-layer end-of-run table as data; `format_layer_summary` prints it."""
        return layer_summary(self.records)

    def report(self, findings: tuple[Finding, ...] | None = None) -> str:
        """The per-layer table followed by the warnings (`findings()` unless given), as text."""
        findings = self.findings() if findings is None else findings
        return format_layer_summary(self.summary()) + "\n\n" + format_findings(findings)

    def save(self, run_dir: str | Path) -> tuple[Path, ...]:
        """Write records.csv, findings.json, summary.txt and the three pictures into `run_dir`/diagnostics/.

        Every file is written to a temporary name beside it and renamed when complete.

        Args:
            run_dir: the run's directory; the diagnostics/ folder inside it is created when absent.
        """
        from .plots import PLOTS  # matplotlib is imported only when pictures are drawn

        out = Path(run_dir) / "diagnostics"
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create the diagnostics folder {out}: {e.strerror}") from e
        records = self.records
        findings = self.findings()
        texts = {
            "records.csv": records_to_csv(records),
            "findings.json": json.dumps([f.to_dict() for f in findings], indent=2) + "\n",
            "summary.txt": self.report(findings) + "\n",
        }
        paths = []
        for name, text in texts.items():
            atomic_write_text(out / name, text, durable=False)
            paths.append(out / name)
        for name, plot in zip(PICTURES, PLOTS, strict=True):
            figure = plot(records)
            with atomic_path(out / name) as tmp:
                figure.savefig(tmp, format="png", dpi=100)
            paths.append(out / name)
        return tuple(paths)


def _cells(row: list[float], has_grad: bool, has_params: bool, divisors: list[int | None]) -> list[float | None]:
    """One layer's host-side numbers from its stacked sums: norms, update ratio, mean, std and fractions."""
    grad_sq, weight_sq, delta_sq, total, norm, dead, negative, sat = row
    weight = math.sqrt(weight_sq)
    cells: list[float | None] = [
        math.sqrt(grad_sq) if has_grad else None,
        weight if has_params else None,
        (math.sqrt(delta_sq) / weight if weight > 0 else math.nan) if has_params else None,
    ]
    count = divisors[0]
    if count:
        mean = total / count
        cells += [mean, math.sqrt(max(norm * norm / count - mean * mean, 0.0))]  # √(E[y²] − E[y]²), in float64
    else:
        cells += [None, None]
    cells += [None if d is None else v / d for v, d in zip((dead, negative, sat), divisors[2:], strict=True)]
    return cells
