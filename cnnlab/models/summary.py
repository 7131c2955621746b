"""Per-layer output shapes, parameters and multiply-accumulates of a model or block.

MACs count the multiplications of convolutions (out_H·out_W·out_C · in_C/groups·kh·kw) and fully connected
layers (out·in), for one image; norms, activations, pooling and additions are not counted, as in the MAC figures
published for the classic networks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..errors import ConfigError


@dataclass(frozen=True)
class LayerRow:
    """One row of a summary: a layer (or, with `depth`, a group of layers)."""

    name: str
    type: str
    output_shape: tuple[int, ...] | None  # without the batch axis; None when the layer did not run
    params: int
    macs: int


@dataclass(frozen=True)
class ModelSummary:
    name: str
    input_shape: tuple[int, ...]  # (C, H, W)
    output_shape: tuple[int, ...] | tuple[tuple[int, ...], ...]  # without the batch axis; one per map of a detector
    layers: tuple[LayerRow, ...]
    params: int
    trainable_params: int
    macs: int

    def to_dict(self) -> dict:
        return asdict(self)


def _is_leaf(module: nn.Module) -> bool:
    # A weight-normalized conv holds its g and v in a `parametrizations` child; it is still one layer.
    return all(name == "parametrizations" for name, _ in module.named_children())


def _type_name(module: nn.Module) -> str:
    name = type(module).__name__
    if name.startswith("Parametrized"):
        return name.removeprefix("Parametrized") + "+WN"
    return name


def _macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    per_image = output[0].numel() if output.dim() > 1 else output.numel()
    if isinstance(module, nn.ConvTranspose2d):  # every input value is spread over out_C/groups·kh·kw outputs
        kh, kw = module.kernel_size
        return inputs[0][0].numel() * (module.out_channels // module.groups) * kh * kw
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return per_image * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return per_image * module.in_features
    return 0


def summarize(
    model: nn.Module, input_shape: tuple[int, ...] | None = None, *, name: str = "", depth: int | None = None
) -> ModelSummary:
    """Run one zero image of `input_shape` (C, H, W) through `model` in eval mode and tabulate every layer.

    The image is made on the device of the model's parameters; a model built under `torch.device("meta")` gives
    the same table without allocating or computing anything.

    Args:
        model: any module taking (N, C, H, W); its training mode is restored afterwards.
        input_shape: (C, H, W); defaults to `model.input_size` for the zoo's models.
        name: a label for the summary.
        depth: None lists every layer; d groups layers into the modules d levels deep (1: top-level children).
    """
    if input_shape is None:
        input_shape = getattr(model, "input_size", None)
        if input_shape is None:
            raise ConfigError("summarize needs input_shape=(C, H, W) for a module without input_size")
    input_shape = tuple(int(s) for s in input_shape)
    if depth is not None and depth < 1:
        raise ConfigError(f"depth must be at least 1, got {depth}")
    modules = dict(model.named_modules())
    if _is_leaf(model):  # a single layer (a lone conv) is its own only row, named ""
        leaves = [""]
    else:
        leaves = [n for n, m in modules.items() if n and _is_leaf(m)]

    def level(n: str) -> int:
        return n.count(".") + 1

    if depth is None:
        rows = leaves
    else:
        rows = [n for n, m in modules.items() if n and (level(n) == depth or (level(n) < depth and _is_leaf(m)))]
    shapes: dict[str, tuple[int, ...]] = {}
    macs: dict[str, int] = dict.fromkeys(leaves, 0)

    def hook(layer_name: str):
        def record(module: nn.Module, args, output) -> None:
            if isinstance(output, torch.Tensor):
                shapes.setdefault(layer_name, tuple(output.shape[1:]))
                if layer_name in macs:
                    macs[layer_name] += _macs(module, args, output)

        return record

    handles = [modules[n].register_forward_hook(hook(n)) for n in set(rows) | set(leaves)]
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        x = torch.zeros(1, *input_shape, device=None if param is None else param.device)
        with torch.no_grad():
            out = model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()

    def under(row: str, leaf: str) -> bool:
        return leaf == row or leaf.startswith(row + ".")

    table = tuple(
        LayerRow(
            name=n or _type_name(modules[n]),
            type=_type_name(modules[n]),
            output_shape=shapes.get(n),
            params=sum(p.numel() for p in modules[n].parameters()),
            macs=sum(v for leaf, v in macs.items() if under(n, leaf)),
        )
        for n in rows
    )
    return ModelSummary(
        name=name or type(model).__name__,
        input_shape=input_shape,
        output_shape=_output_shape(out),
        layers=table,
        params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        macs=sum(macs.values()),
    )


def _output_shape(out: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[int, ...] | tuple[tuple[int, ...], ...]:
    """(C, H, W) of one output; a tuple of them for a model with several (a detector's heatmap and box map)."""
    if isinstance(out, torch.Tensor):
        return tuple(out.shape[1:])
    return tuple(tuple(t.shape[1:]) for t in out)


def _shape(shape: tuple | None) -> str:
    if shape is None:
        return "-"
    if shape and isinstance(shape[0], tuple):  # several outputs: '10×16×16, 4×16×16'
        return ", ".join(_shape(s) for s in shape)
    return "×".join(str(s) for s in shape)


def format_summary(summary: ModelSummary) -> str:
    """A plain-text table of the summary, one layer per line, totals last."""
    header = ("layer", "type", "output", "params", "MACs")
    body = [(r.name, r.type, _shape(r.output_shape), f"{r.params:,}", f"{r.macs:,}") for r in summary.layers]
    total = ("total", "", _shape(summary.output_shape), f"{summary.params:,}", f"{summary.macs:,}")
    widths = [max(len(row[i]) for row in [header, *body, total]) for i in range(5)]

    def line(cells: tuple[str, ...]) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:3], widths[:3], strict=True)]
        right = [c.rjust(w) for c, w in zip(cells[3:], widths[3:], strict=True)]
        return "  ".join(left + right).rstrip()

    rule = "-" * len(line(header))
    title = f"{summary.name}  (input {_shape(summary.input_shape)})"
    parts = [title, rule, line(header), rule, *(line(b) for b in body), rule, line(total)]
    if summary.trainable_params != summary.params:
        parts.append(f"trainable params: {summary.trainable_params:,}")
    return "\n".join(parts)
