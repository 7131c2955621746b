"""Batched, seeded augmentations — the first cure for overfitting: more (augmented) data.

Every op maps a batch (B, C, H, W) on any device and a CPU `torch.Generator` to a batch of the same shape. The
per-sample parameters are drawn on the CPU from that generator and only then moved to the batch's device, so a run
on a GPU draws exactly the numbers a CPU run draws; the pixel work itself is batched (gather / where), with no
per-sample Python loop. Ops run before normalization (TensorLoader normalizes), so zero padding is black.

Spec strings: 'crop:4,flip,translate:2,cutout:8' (name[:argument], comma-separated, applied in order).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..errors import ConfigError, ShapeError, shape_str, unknown_name


def _window(padded: torch.Tensor, top: torch.Tensor, left: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Per-sample h×w windows of `padded` (B, C, H', W') at rows top[b], columns left[b] (CPU int64 tensors)."""
    b, c, _, wp = padded.shape
    top, left = top.to(padded.device), left.to(padded.device)
    rows = (top.view(b, 1) + torch.arange(h, device=padded.device)).view(b, 1, h, 1).expand(b, c, h, wp)
    x = padded.gather(2, rows)  # (B, C, H', W') -> (B, C, h, W')
    cols = (left.view(b, 1) + torch.arange(w, device=padded.device)).view(b, 1, 1, w).expand(b, c, h, w)
    return x.gather(3, cols)  # (B, C, h, W') -> (B, C, h, w)


class RandomCrop:
    """Zero-pad by `pad` pixels on each side, then take a random H×W window: the CIFAR recipe of He et al. 2016
    (§4.2: "4 pixels are padded on each side, and a 32×32 crop is randomly sampled")."""

    mode = "constant"
    name = "crop"

    def __init__(self, pad: int = 4):
        self.pad = pad

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        p, (h, w) = self.pad, x.shape[-2:]
        top = torch.randint(0, 2 * p + 1, (x.shape[0],), generator=g)
        left = torch.randint(0, 2 * p + 1, (x.shape[0],), generator=g)
        padded = F.pad(x, (p, p, p, p), mode=self.mode)  # (B, C, H, W) -> (B, C, H+2p, W+2p)
        return _window(padded, top, left, h, w)

    def __repr__(self) -> str:
        return f"{self.name}:{self.pad}"


class Translate(RandomCrop):
    """Shift by up to `pad` pixels in each direction, filling with the mirrored image (reflect padding, as
    airbench's 'translate' does) instead of black."""

    mode = "reflect"
    name = "translate"


class Flip:
    """Mirror each image left-right with probability p."""

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        mask = (torch.rand(x.shape[0], generator=g) < self.p).to(x.device)
        return torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)

    def __repr__(self) -> str:
        return f"flip:{self.p:g}"


class Cutout:
    """Blank a size×size square centred on a random pixel, clipped at the border (DeVries & Taylor 2017, 'Improved
    Regularization of CNNs with Cutout'). The square is filled with `fill` per channel — the data set's mean makes
    it 0 after normalization, as in the paper, which cuts out normalized images; default black."""

    def __init__(self, size: int = 8, fill: Sequence[float] | None = None):
        self.size = size
        self.fill = fill

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, c, h, w = x.shape
        cy = torch.randint(0, h, (b,), generator=g).to(x.device).view(b, 1, 1, 1)
        cx = torch.randint(0, w, (b,), generator=g).to(x.device).view(b, 1, 1, 1)
        y0, x0 = cy - self.size // 2, cx - self.size // 2
        ys = torch.arange(h, device=x.device).view(1, 1, h, 1)
        xs = torch.arange(w, device=x.device).view(1, 1, 1, w)
        inside = (ys >= y0) & (ys < y0 + self.size) & (xs >= x0) & (xs < x0 + self.size)  # (B, 1, H, W)
        fill = torch.tensor(self.fill or [0.0] * c, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return torch.where(inside, fill, x)

    def __repr__(self) -> str:
        return f"cutout:{self.size}"


class Augmentation:
    """Ops applied in order; each draws from the same generator, one after the other."""

    def __init__(self, ops: Sequence, input_size: tuple[int, int]):
        self.ops = tuple(ops)
        self.input_size = input_size

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[-2:]) != self.input_size:
            raise ShapeError(f"augmentation {self!r} was built for {shape_str(self.input_size)} images, got a "
                             f"batch of {shape_str(x.shape)}")  # fmt: skip
        for op in self.ops:
            x = op(x, g)
        return x

    def __repr__(self) -> str:
        return ",".join(repr(op) for op in self.ops)


OPS = {"crop": (RandomCrop, int), "translate": (Translate, int), "flip": (Flip, float), "cutout": (Cutout, int)}


def _parse(item: str, hw: tuple[int, int], mean: Sequence[float] | None):
    name, _, arg = item.strip().partition(":")
    if name not in OPS:
        raise unknown_name("augmentation", name, OPS)
    cls, kind = OPS[name]
    try:
        value = kind(arg) if arg else None
    except ValueError:
        raise ConfigError(
            f"augmentation {item!r}: {arg!r} is not a{'n integer' if kind is int else ' number'}"
        ) from None
    extra = {"fill": mean} if name == "cutout" else {}
    op = cls(**extra) if value is None else cls(value, **extra)
    limit = min(hw)
    if name == "crop" and not 0 < op.pad <= limit:
        raise ConfigError(f"augmentation {item!r}: the padding must lie in 1..{limit} for {shape_str(hw)} images")
    if name == "translate" and not 0 < op.pad < limit:
        raise ConfigError(f"augmentation {item!r}: the shift must lie in 1..{limit - 1} for {shape_str(hw)} images")
    if name == "flip" and not 0 <= op.p <= 1:
        raise ConfigError(f"augmentation {item!r}: the probability must lie in [0, 1]")
    if name == "cutout" and not 0 < op.size <= max(hw):
        raise ConfigError(f"augmentation {item!r}: the square's side must lie in 1..{max(hw)}")
    return op


def build_augment(
    spec: str | Sequence[str] | None, *, input_size: int | Sequence[int], mean: Sequence[float] | None = None
) -> Augmentation | None:
    """An `Augment` from a spec such as 'crop:4,flip,translate:2,cutout:8', or None for no augmentation.

    Ops: crop[:pad=4] (zero padding + random crop), translate[:pixels=2] (reflect padding + random crop),
    flip[:p=0.5] (horizontal), cutout[:size=8].

    Args:
        spec: comma-separated ops, a sequence of them, or None / '' / 'none'.
        input_size: (C, H, W), (H, W) or a side; checks the arguments and every batch.
        mean: per-channel fill for cutout (pass the data set's mean to cut out to 0 after normalization).
    """
    if spec is None:
        return None
    items = [i for part in ([spec] if isinstance(spec, str) else spec) for i in part.split(",") if i.strip()]
    if not items or items == ["none"]:
        return None
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)[-2:]
    return Augmentation([_parse(i, size, mean) for i in items], size)
