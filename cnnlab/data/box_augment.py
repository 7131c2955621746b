"""Box-aware batched augmentation for detection: the pixels move, and the boxes move with them.

Every op maps (images (B, C, H, W) in [0, 1], boxes (B, M, 4), labels (B, M), a CPU `torch.Generator`) to the
same three tensors. Boxes are (x0, y0, x1, y1) in pixels, pixel (x, y) covering [x, x+1) × [y, y+1) (the
`DetectionDataset` convention); a row with label −1 is padding and its box is zeros. As in `augment.py`, the
per-image parameters are drawn on the CPU and only then moved to the batch's device, and the pixel work is batched
(gather / where / grid_sample), with no per-image Python loop.

Geometry, for an image W pixels wide:
- flip: x ↦ W − x, so a box (x0, x1) becomes (W − x1, W − x0); flipping twice is the identity.
- translate by (dx, dy): out[y, x] = in[y − dy, x − dx], so a box moves by (dx, dy, dx, dy); uncovered pixels take
  the fill colour (the data set's mean for 'translate' — reflect padding, as the image-only op uses, would mirror
  shapes into the image without boxes; black for 'crop').
- crop:K pads K black pixels on each side and takes an H×W window at (top, left) ∈ [0, 2K]²: the translation
  (dx, dy) = (K − left, K − top). Its images are those of the image-only `crop` for the same generator.
- scale by s about the image's centre (bilinear, uncovered pixels take the mean): x ↦ (x − W/2)·s + W/2.

The drop rule. After a move, boxes are clipped to the image. A box is dropped (label −1, box zeros) when the part
left inside the image is less than `min_visible` (default 1/4) of the box's area before clipping, or when nothing
of it is left (a zero-area box is kept only while it lies inside the image). Boxes only know their extent, not the
object's pixels: a clipped box is the clip of the moved box, which may be looser than the tight box of what remains
of the object (a triangle cut at its base is narrower than its clipped box). After each move the surviving objects
of an image come first, in their order, and the padding after them.

Spec strings: 'flip,translate:4', 'crop:4,flip', 'scale:0.8-1.2' (name[:argument], comma-separated, in order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..errors import ConfigError, ShapeError, shape_str, suggest

# A box-aware augmentation: (images, boxes, labels, generator) -> (images, boxes, labels), shapes unchanged.
BoxAugment = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor, torch.Tensor]
]

MIN_VISIBLE = 0.25  # least fraction of a box's area that must stay inside the image for the box to be kept


def _fill(fill: Sequence[float] | None, channels: int, like: torch.Tensor) -> torch.Tensor:
    """The fill colour as a (1, C, 1, 1) tensor (black when None)."""
    values = [0.0] * channels if fill is None else list(fill)
    if len(values) != channels:
        raise ShapeError(f"the fill colour has {len(values)} channels, the images {channels}")
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)


def compact(boxes: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each image's objects (label ≥ 0) to the front, keeping their order; padding rows become zeros / −1."""
    real = labels >= 0
    order = torch.argsort((~real).to(torch.int8), dim=1, stable=True)  # (B, M): real rows first
    real = real.gather(1, order)
    labels = torch.where(real, labels.gather(1, order), -1)
    boxes = torch.where(real.unsqueeze(-1), boxes.gather(1, order.unsqueeze(-1).expand_as(boxes)), 0.0)
    return boxes, labels


def clip_boxes(
    boxes: torch.Tensor, labels: torch.Tensor, size: tuple[int, int], min_visible: float = MIN_VISIBLE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip moved boxes (B, M, 4) to an image of size (H, W) and drop those with too little left (the drop rule in
    the module docstring); returns compacted (boxes, labels)."""
    h, w = size
    x0, y0, x1, y1 = boxes.unbind(-1)
    cx0, cx1 = x0.clamp(0, w), x1.clamp(0, w)
    cy0, cy1 = y0.clamp(0, h), y1.clamp(0, h)
    area = (x1 - x0) * (y1 - y0)
    left = (cx1 - cx0) * (cy1 - cy0)
    inside = (x0 >= 0) & (y0 >= 0) & (x1 <= w) & (y1 <= h)
    visible = torch.where(area > 0, left / area.clamp(min=1e-12), inside.to(boxes.dtype))  # fraction kept
    keep = (labels >= 0) & (visible > 0) & (visible >= min_visible)
    clipped = torch.stack([cx0, cy0, cx1, cy1], dim=-1)  # 4 × (B, M) -> (B, M, 4)
    return compact(clipped, torch.where(keep, labels, -1))


def flip_boxes(
    images: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mirror the images where mask (B,) bool is True, left to right, and their boxes: (x0, x1) -> (W − x1, W − x0)."""
    w = images.shape[-1]
    mask = mask.to(images.device)
    images = torch.where(mask.view(-1, 1, 1, 1), images.flip(-1), images)
    x0, y0, x1, y1 = boxes.unbind(-1)
    mirrored = torch.stack([w - x1, y0, w - x0, y1], dim=-1)
    move = mask.view(-1, 1, 1) & (labels >= 0).unsqueeze(-1)  # padding rows stay zeros
    return images, torch.where(move, mirrored, boxes), labels


def shift(
    images: torch.Tensor,
    boxes: torch.Tensor,
    labels: torch.Tensor,
    dx: torch.Tensor,
    dy: torch.Tensor,
    *,
    fill: Sequence[float] | None = None,
    min_visible: float = MIN_VISIBLE,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Translate image b by (dx[b], dy[b]) whole pixels (int64 (B,)): out[y, x] = in[y − dy, x − dx], `fill` where
    that lies outside; boxes move by (dx, dy), are clipped and dropped by the drop rule."""
    b, c, h, w = images.shape
    dev = images.device
    dx, dy = dx.to(dev), dy.to(dev)
    rows = torch.arange(h, device=dev).view(1, h) - dy.view(b, 1)  # (B, H): source row of each output row
    cols = torch.arange(w, device=dev).view(1, w) - dx.view(b, 1)  # (B, W): source column of each output column
    x = images.gather(2, rows.clamp(0, h - 1).view(b, 1, h, 1).expand(b, c, h, w))  # (B, C, H, W), rows moved
    x = x.gather(3, cols.clamp(0, w - 1).view(b, 1, 1, w).expand(b, c, h, w))  # (B, C, H, W), columns moved
    inside = ((rows >= 0) & (rows < h)).view(b, 1, h, 1) & ((cols >= 0) & (cols < w)).view(b, 1, 1, w)
    x = torch.where(inside, x, _fill(fill, c, images))
    offset = torch.stack([dx, dy, dx, dy], dim=-1).to(boxes.dtype).view(b, 1, 4)
    moved, labels = clip_boxes(boxes + offset, labels, (h, w), min_visible)
    return x, moved, labels


def zoom(
    images: torch.Tensor,
    boxes: torch.Tensor,
    labels: torch.Tensor,
    scale: torch.Tensor,
    *,
    fill: Sequence[float] | None = None,
    min_visible: float = MIN_VISIBLE,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scale image b by scale[b] (float (B,)) about its centre, bilinearly, `fill` where no input pixel maps; boxes
    map by x -> (x − W/2)·s + W/2, y likewise, and are clipped and dropped by the drop rule."""
    b, c, h, w = images.shape
    s = scale.to(images.device, images.dtype)
    theta = torch.zeros(b, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / s  # output point u samples the input at u / s (normalized coordinates)
    grid = F.affine_grid(theta, [b, c, h, w], align_corners=False)  # (B, H, W, 2)
    x = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    covered = F.grid_sample(images.new_ones(b, 1, h, w), grid, mode="bilinear", align_corners=False)
    x = x + (1 - covered) * _fill(fill, c, images)  # zeros padding + fill · (1 − coverage) = fill padding
    centre = torch.tensor([w / 2, h / 2, w / 2, h / 2], dtype=boxes.dtype, device=boxes.device)
    moved = (boxes - centre) * s.to(boxes.dtype).view(b, 1, 1) + centre
    moved, labels = clip_boxes(moved, labels, (h, w), min_visible)
    return x, moved, labels


class BoxFlip:
    """Mirror each image left-right with probability p, with its boxes."""

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, images, boxes, labels, g: torch.Generator):
        return flip_boxes(images, boxes, labels, torch.rand(images.shape[0], generator=g) < self.p)

    def __repr__(self) -> str:
        return f"flip:{self.p:g}"


class BoxTranslate:
    """Shift each image by whole pixels, dx and dy each uniform in −pad..pad, filling with `fill` (the mean)."""

    name = "translate"

    def __init__(self, pad: int = 2, fill: Sequence[float] | None = None, min_visible: float = MIN_VISIBLE):
        self.pad, self.fill, self.min_visible = pad, fill, min_visible

    def draw(self, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The shifts (dx, dy) of n images."""
        dx = torch.randint(-self.pad, self.pad + 1, (n,), generator=g)
        dy = torch.randint(-self.pad, self.pad + 1, (n,), generator=g)
        return dx, dy

    def __call__(self, images, boxes, labels, g: torch.Generator):
        dx, dy = self.draw(images.shape[0], g)
        return shift(images, boxes, labels, dx, dy, fill=self.fill, min_visible=self.min_visible)

    def __repr__(self) -> str:
        return f"{self.name}:{self.pad}"


class BoxCrop(BoxTranslate):
    """Zero-pad by `pad` and take a random H×W window, as the image-only crop does (same draws: top, then left)."""

    name = "crop"

    def __init__(self, pad: int = 4, min_visible: float = MIN_VISIBLE):
        super().__init__(pad, None, min_visible)

    def draw(self, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        top = torch.randint(0, 2 * self.pad + 1, (n,), generator=g)
        left = torch.randint(0, 2 * self.pad + 1, (n,), generator=g)
        return self.pad - left, self.pad - top  # the window at (top, left) is the shift (pad − left, pad − top)


class BoxScale:
    """Scale each image about its centre by s uniform in [low, high] (s > 1 zooms in), filling with `fill`."""

    def __init__(
        self, low: float = 0.75, high: float = 1.25, fill: Sequence[float] | None = None, min_visible=MIN_VISIBLE
    ):
        self.low, self.high, self.fill, self.min_visible = low, high, fill, min_visible

    def __call__(self, images, boxes, labels, g: torch.Generator):
        s = self.low + (self.high - self.low) * torch.rand(images.shape[0], generator=g, dtype=torch.float64)
        return zoom(images, boxes, labels, s, fill=self.fill, min_visible=self.min_visible)

    def __repr__(self) -> str:
        return f"scale:{self.low:g}-{self.high:g}"


class BoxAugmentation:
    """Box-aware ops applied in order; each draws from the same generator, one after the other."""

    def __init__(self, ops: Sequence, input_size: tuple[int, int]):
        self.ops = tuple(ops)
        self.input_size = input_size

    def __call__(self, images: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor, g: torch.Generator):
        if images.dim() != 4 or tuple(images.shape[-2:]) != self.input_size:
            raise ShapeError(f"box augmentation {self!r} was built for {shape_str(self.input_size)} images, got a "
                             f"batch of {shape_str(images.shape)}")  # fmt: skip
        b = images.shape[0]
        if boxes.dim() != 3 or boxes.shape[0] != b or boxes.shape[2] != 4 or labels.shape != boxes.shape[:2]:
            raise ShapeError(f"box augmentation: {b} images need boxes (B, M, 4) and labels (B, M), got boxes "
                             f"{shape_str(boxes.shape)} and labels {shape_str(labels.shape)}")  # fmt: skip
        if b == 0:
            return images, boxes, labels  # an empty share (more processes than images left)
        for op in self.ops:
            images, boxes, labels = op(images, boxes, labels, g)
        return images, boxes, labels

    def __repr__(self) -> str:
        return ",".join(repr(op) for op in self.ops)


OPTIONS = {"flip": "flip[:p=0.5]", "translate": "translate[:pixels=2]", "crop": "crop[:pad=4]",
           "scale": "scale[:low-high=0.75-1.25]"}  # fmt: skip


def _number(item: str, text: str, kind: type):
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ConfigError(f"box augmentation {item!r}: {text!r} is not {what}") from None


def _parse(item: str, hw: tuple[int, int], mean: Sequence[float] | None, min_visible: float):
    name, _, arg = item.strip().partition(":")
    if name not in OPTIONS:
        raise ConfigError(f"unknown box augmentation {name!r} in {item!r}; {suggest(name, OPTIONS)} — the box-aware "
                          f"options are {', '.join(OPTIONS.values())}")  # fmt: skip
    limit = min(hw)
    if name == "flip":
        p = _number(item, arg, float) if arg else 0.5
        if not 0 <= p <= 1:
            raise ConfigError(f"box augmentation {item!r}: the probability must lie in [0, 1]")
        return BoxFlip(p)
    if name in ("translate", "crop"):
        pad = _number(item, arg, int) if arg else (2 if name == "translate" else 4)
        if not 0 < pad < limit:
            raise ConfigError(f"box augmentation {item!r}: the shift must lie in 1..{limit - 1} pixels for "
                              f"{shape_str(hw)} images")  # fmt: skip
        if name == "crop":
            return BoxCrop(pad, min_visible)
        return BoxTranslate(pad, mean, min_visible)
    low_text, dash, high_text = arg.partition("-")
    low, high = (_number(item, low_text, float), _number(item, high_text, float)) if dash else (0.75, 1.25)
    if not 0 < low <= high:
        raise ConfigError(f"box augmentation {item!r}: the scale range must be 'low-high' with 0 < low ≤ high, "
                          "as in 'scale:0.8-1.2'")  # fmt: skip
    return BoxScale(low, high, mean, min_visible)


def build_box_augment(
    spec: str | Sequence[str] | None,
    *,
    input_size: int | Sequence[int],
    mean: Sequence[float] | None = None,
    min_visible: float = MIN_VISIBLE,
) -> BoxAugmentation | None:
    """A `BoxAugment` from a spec such as 'flip,translate:4' or 'crop:4,flip', or None for no augmentation.

    Ops: flip[:p=0.5] (horizontal), translate[:pixels=2] (whole-pixel shift, mean fill), crop[:pad=4] (zero
    padding + random window, a shift with black fill), scale[:low-high=0.75-1.25] (about the centre, mean fill).

    Args:
        spec: comma-separated ops, a sequence of them, or None / '' / 'none'.
        input_size: (C, H, W), (H, W) or a side; checks the arguments and every batch.
        mean: per-channel fill for translate and scale (the data set's mean: 0 after normalization).
        min_visible: least fraction of a box's area left inside the image for the box to be kept (0..1).
    """
    if not 0 <= min_visible <= 1:
        raise ConfigError(f"min_visible is a fraction of a box's area, in [0, 1]; got {min_visible}")
    if spec is None:
        return None
    items = [i for part in ([spec] if isinstance(spec, str) else spec) for i in part.split(",") if i.strip()]
    if not items or items == ["none"]:
        return None
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)[-2:]
    return BoxAugmentation([_parse(i, size, mean, min_visible) for i in items], size)
