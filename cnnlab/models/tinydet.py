"""`tinydet`: a small anchor-free one-stage detector (CenterNet-style) for 32×32 images such as the shapes data.

    image (C, 32, 32)
      stem   3×3 conv, stride 1                      -> widths[0] × 32 × 32
      C1     stage of `convs` 3×3 convs, stride 2    -> widths[0] × 16 × 16
      C2     stage, stride 4                         -> widths[1] ×  8 ×  8
      C3     stage, stride 8                         -> widths[2] ×  4 ×  4
      neck   P3 = lateral(C3); P2 = fuse(merge(up(P3), lateral(C2))); P1 = fuse(merge(up(P2), lateral(C1)))
      heads  on P at `head_stride`: heatmap logits (K × h × w), box distances (4 × h × w)

Each lateral is a 1×1 conv to `neck_width` channels, `up` doubles the map ('nearest', 'bilinear' or a 2×2
'transposed' convolution), `merge` concatenates channels (`concat`, 2·neck_width) or adds (`add`, neck_width),
and `fuse` is a 3×3 conv back to neck_width. The heatmap holds one logistic score per class and cell, so several
shapes in one image, each class decided on its own; the box map holds the distances (l, t, r, b) in pixels from
the cell centre to the box's sides, softplus(·)·stride so that they stay positive. Targets, losses and decoding are
in `cnnlab.models._detection`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, ShapeError, shape_str
from ..layers import ActSpec, Add, Concat, Conv2d, ConvNormAct, NormSpec, Upsample
from . import _detection
from ._base import check_common, init_weight_, kaiming_init_, pair
from ._registry import register_model

MERGES = ("concat", "add")
UPSAMPLES = ("nearest", "bilinear", "transposed")
HEAD_STRIDES = (2, 4)
DEEPEST_STRIDE = 8  # C3: the input size must be a multiple of it


class TinyDetOutputs(NamedTuple):
    """The raw maps of one batch, at the head's stride s (h = H / s, w = W / s)."""

    heatmap: torch.Tensor  # (B, K, h, w) per-class logits: sigmoid gives each class's score at each cell
    boxes: torch.Tensor  # (B, 4, h, w) distances (l, t, r, b) in pixels from each cell centre, > 0


def _upsampler(mode: str, channels: int) -> nn.Module:
    """×2 upsampling; 'transposed' learns a 2×2 stride-2 kernel (4·C² weights, no bias: a norm follows the merge)."""
    if mode == "transposed":
        return nn.ConvTranspose2d(channels, channels, 2, stride=2, bias=False)
    return Upsample(scale_factor=2, mode=mode)


class TinyDet(nn.Module):
    """Backbone (strides 2, 4, 8), top-down upsample-and-merge neck, per-class sigmoid heatmap and box head.

    Args:
        num_classes: K, the heatmap's channels (one logistic output per class).
        in_channels: image channels.
        input_size: image size, int or (H, W), a multiple of 8.
        widths: channels of the three backbone stages (strides 2, 4, 8); the stem has widths[0].
        convs: 3×3 conv-norm-act units per stage (the first has stride 2).
        neck_width: channels of the neck and of the heads' hidden convs.
        head_stride: 2 (16×16 maps for 32×32 images: two merges) or 4 (8×8: one merge).
        merge: 'concat' (channels stacked, fuse conv 2W → W) or 'add' (summed, fuse conv W → W).
        upsample: 'nearest', 'bilinear' or 'transposed' (a learned 2×2 stride-2 transposed convolution).
        act, norm: after every conv except the two output convs (default ReLU and BatchNorm).
    """

    task = "detection"  # the engine's switch: outputs are maps to decode, not (N, num_classes) logits

    def __init__(
        self,
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        input_size: int | tuple[int, int] = 32,
        widths: Sequence[int] = (16, 32, 64),
        convs: int = 2,
        neck_width: int = 32,
        head_stride: int = 2,
        merge: str = "concat",
        upsample: str = "nearest",
        act: ActSpec = "relu",
        norm: NormSpec = "batch",
    ):
        super().__init__()
        check_common(num_classes, in_channels)
        for name, value, options in (("merge", merge, MERGES), ("upsample", upsample, UPSAMPLES),
                                     ("head_stride", head_stride, HEAD_STRIDES)):  # fmt: skip
            if value not in options:
                raise ConfigError(f"tinydet: {name} must be one of {', '.join(map(str, options))}, got {value!r}")
        if len(widths) != 3 or min(widths) < 1 or convs < 1 or neck_width < 1:
            raise ConfigError(
                f"tinydet needs three positive stage widths (strides 2, 4, 8), convs ≥ 1 and neck_width ≥ 1, got "
                f"widths {tuple(widths)}, convs {convs}, neck_width {neck_width}"
            )
        h, w = pair(input_size)
        if h % DEEPEST_STRIDE or w % DEEPEST_STRIDE:
            raise ConfigError(f"tinydet's maps halve three times, so input_size must be a multiple of 8, got {h}×{w}")

        self.stem = ConvNormAct(in_channels, widths[0], 3, norm=norm, act=act)
        stages, channels = [], widths[0]
        for width in widths:
            units = [ConvNormAct(channels if i == 0 else width, width, 3, 2 if i == 0 else 1, norm=norm, act=act)
                     for i in range(convs)]  # fmt: skip
            stages.append(nn.Sequential(*units))
            channels = width
        self.stages = nn.ModuleList(stages)
        # Neck levels, deepest first: C3, C2[, C1]. One lateral per level, one upsample/merge/fuse per step.
        levels = [2, 1, 0] if head_stride == 2 else [2, 1]
        self.levels = levels
        self.laterals = nn.ModuleList(ConvNormAct(widths[i], neck_width, 1, norm=norm, act=act) for i in levels)
        steps = len(levels) - 1
        self.upsamples = nn.ModuleList(_upsampler(upsample, neck_width) for _ in range(steps))
        self.merges = nn.ModuleList((Concat() if merge == "concat" else Add()) for _ in range(steps))
        fuse_in = 2 * neck_width if merge == "concat" else neck_width  # (N, W, h, w) ⊕ (N, W, h, w)
        self.fuses = nn.ModuleList(ConvNormAct(fuse_in, neck_width, 3, norm=norm, act=act) for _ in range(steps))

        def head(out: int) -> nn.Sequential:
            return nn.Sequential(ConvNormAct(neck_width, neck_width, 3, norm=norm, act=act), Conv2d(neck_width, out, 1))

        self.heatmap_head = head(num_classes)
        self.box_head = head(4)
        self.input_size = (in_channels, h, w)
        self.num_classes = num_classes
        self.stride = head_stride
        self.merge = merge
        kaiming_init_(self)
        for layer in (self.heatmap_head[-1], self.box_head[-1]):  # RetinaNet / FCOS: output convs N(0, 0.01²)
            init_weight_(layer, lambda t: nn.init.normal_(t, 0.0, 0.01))
        # Every class starts at score π = 0.01 everywhere, so the many background cells do not swamp the first
        # steps of the loss (Lin et al. 2017).
        nn.init.constant_(self.heatmap_head[-1].bias, _detection.prior_bias())

    def forward(self, x: torch.Tensor) -> TinyDetOutputs:
        if x.dim() != 4 or x.shape[-2] % DEEPEST_STRIDE or x.shape[-1] % DEEPEST_STRIDE:
            raise ShapeError(f"tinydet takes (N, C, H, W) images with H and W multiples of 8, got {shape_str(x.shape)}")
        features = []  # C1, C2, C3 at strides 2, 4, 8
        y = self.stem(x)
        for stage in self.stages:
            y = stage(y)
            features.append(y)
        p = self.laterals[0](features[self.levels[0]])  # (N, W, H/8, W/8)
        for step, level in enumerate(self.levels[1:]):
            up = self.upsamples[step](p)  # (N, W, h, w) -> (N, W, 2h, 2w)
            lateral = self.laterals[step + 1](features[level])  # (N, W, 2h, 2w)
            if self.merge == "concat":
                merged = self.merges[step]([up, lateral])  # -> (N, 2W, 2h, 2w)
            else:
                merged = self.merges[step](up, lateral)  # -> (N, W, 2h, 2w)
            p = self.fuses[step](merged)  # -> (N, W, 2h, 2w)
        boxes = F.softplus(self.box_head(p)) * self.stride  # (N, 4, h, w) distances in pixels, always > 0
        return TinyDetOutputs(self.heatmap_head(p), boxes)

    def flip_test(self, x: torch.Tensor) -> TinyDetOutputs:
        """The maps of `x` averaged with those of its mirror image (horizontal flip test, as in CenterNet):
        heatmap logits are averaged cell by cell after mirroring back, and the mirrored distances swap left and
        right. Costs a second forward pass; decode the result as usual."""
        plain, mirrored = self(x), self(x.flip(-1))
        heatmap = (plain.heatmap + mirrored.heatmap.flip(-1)) / 2
        boxes = (plain.boxes + mirrored.boxes.flip(-1)[:, [2, 1, 0, 3]]) / 2  # (l, t, r, b) seen in a mirror
        return TinyDetOutputs(heatmap, boxes)

    def assign_targets(self, boxes: torch.Tensor, labels: torch.Tensor, map_size: tuple[int, int]):
        """The `_detection.DetectionTargets` of a padded batch (boxes (B, M, 4), labels (B, M), −1 = padding)."""
        return _detection.assign_targets(boxes, labels, self.num_classes, map_size, self.stride)

    def detection_loss(
        self,
        outputs: TinyDetOutputs,
        boxes: torch.Tensor,
        labels: torch.Tensor,
        *,
        box_loss: str = "giou",
        cls_loss: str = "focal",
        box_weight: float | None = None,
    ) -> dict[str, torch.Tensor]:
        """{'loss' (total), 'cls', 'box'} of a batch, each per object.

        Args:
            outputs: the model's maps for the batch.
            boxes: (B, M, 4) ground-truth boxes in pixels, padded; labels: (B, M) int64, −1 for padding.
            box_loss: 'l1', 'iou', 'giou', 'diou' or 'ciou'. cls_loss: 'focal' or 'bce'.
            box_weight: weight of the box term in the total (None: `_detection.BOX_WEIGHTS[box_loss]`).
        """
        targets = self.assign_targets(boxes, labels, tuple(outputs.heatmap.shape[-2:]))
        return _detection.detection_loss(
            outputs.heatmap,
            outputs.boxes,
            targets,
            self.stride,
            box_loss=box_loss,
            cls_loss=cls_loss,
            box_weight=box_weight,
        )

    def decode(
        self,
        outputs: TinyDetOutputs,
        *,
        score_threshold: float = 0.05,
        max_detections: int = 100,
        iou_threshold: float = 0.5,
        vote: bool = True,
    ) -> list[dict[str, torch.Tensor]]:
        """Per image {'boxes' (n, 4) xyxy pixels, 'scores' (n,), 'labels' (n,)}: 3×3 peaks, top-k, box voting,
        class-wise NMS (`_detection.decode`)."""
        return _detection.decode(
            outputs.heatmap,
            outputs.boxes,
            self.stride,
            score_threshold=score_threshold,
            max_detections=max_detections,
            iou_threshold=iou_threshold,
            vote=vote,
        )


@register_model
def tinydet(**kwargs) -> TinyDet:
    """Anchor-free one-stage detector: upsample + concat neck, per-class sigmoid heatmap, ltrb boxes (CenterNet)."""
    return TinyDet(**kwargs)
