"""NumPy or torch: the box formulas are written once against this small namespace.

The metrics never import torch themselves. A tensor is recognised through `sys.modules`, so NumPy users (and the
COCO evaluator) never pay for torch; tensors keep their dtype, device and autograd graph.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np

from ..errors import AnnotationError, ShapeError

FORMATS = ("xyxy", "xywh", "cxcywh")


def is_tensor(x) -> bool:
    """True for a torch.Tensor, without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def to_numpy(x) -> np.ndarray:
    """A NumPy array of `x` (a tensor is detached and copied to the CPU)."""
    return x.detach().cpu().numpy() if is_tensor(x) else np.asarray(x)


def _numpy_ops() -> SimpleNamespace:
    return SimpleNamespace(
        maximum=np.maximum,
        minimum=np.minimum,
        clamp_min0=lambda x: np.maximum(x, 0),
        atan=np.arctan,
        where=np.where,
        isfinite=np.isfinite,
        stack=lambda xs: np.stack(xs, axis=-1),
        detach=lambda x: x,
        argwhere=np.argwhere,
        to_list=lambda x: np.asarray(x).tolist(),
    )


def _torch_ops(torch) -> SimpleNamespace:
    return SimpleNamespace(
        maximum=torch.maximum,
        minimum=torch.minimum,
        clamp_min0=lambda x: x.clamp(min=0),
        atan=torch.atan,
        where=torch.where,
        isfinite=torch.isfinite,
        stack=lambda xs: torch.stack(xs, dim=-1),
        detach=lambda x: x.detach(),
        argwhere=torch.argwhere,
        to_list=lambda x: x.detach().cpu().tolist(),
    )


def ops_for(x) -> SimpleNamespace:
    """The operations for `x`'s library: NumPy for arrays, torch for tensors."""
    return _torch_ops(sys.modules["torch"]) if is_tensor(x) else _numpy_ops()


def as_float(x):
    """Floating-point `x`: tensors keep float dtypes (ints become the default float dtype, as torch's true
    division does); anything else becomes a NumPy array, float64 unless it already is a float array."""
    if is_tensor(x):
        return x if x.is_floating_point() else x.to(sys.modules["torch"].get_default_dtype())
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return x
    if x.dtype.kind not in "iub":
        raise AnnotationError(f"boxes must be numbers, got an array of dtype {x.dtype}")
    return x.astype(np.float64)


def check_boxes(boxes, *, name: str = "boxes", fmt: str = "xyxy", matrix: bool = False):
    """Float boxes shaped (..., 4) (or (N, 4) when `matrix`), finite and not inverted; else a clear error.

    Args:
        boxes: array or tensor of boxes in format `fmt`.
        name: how the error message calls the argument.
        fmt: 'xyxy' requires x1 <= x2 and y1 <= y2; 'xywh' and 'cxcywh' require w >= 0 and h >= 0.
        matrix: require exactly two dimensions (pairwise functions).
    """
    boxes = as_float(boxes)
    shape = tuple(boxes.shape)
    if (matrix and len(shape) != 2) or not shape or shape[-1] != 4:
        want = "(N, 4)" if matrix else "(..., 4)"
        raise ShapeError(f"{name} must be shaped {want} ({fmt} boxes), got shape {shape}")
    ops = ops_for(boxes)
    finite = ops.isfinite(boxes).all(-1)
    if fmt == "xyxy":
        ordered = (boxes[..., 2] >= boxes[..., 0]) & (boxes[..., 3] >= boxes[..., 1])
        rule = "inverted (x2 < x1 or y2 < y1); xyxy boxes need x1 <= x2 and y1 <= y2"
    else:
        ordered = (boxes[..., 2] >= 0) & (boxes[..., 3] >= 0)
        rule = f"of negative width or height; {fmt} boxes need w >= 0 and h >= 0"
    bad = ~(finite & ordered)
    if bool(bad.any()):
        index = tuple(int(i) for i in ops.argwhere(bad)[0])
        where = name + "".join(f"[{i}]" for i in index)
        box = ops.to_list(boxes[index])
        problem = "has a NaN or infinite coordinate" if not bool(finite[index]) else "is " + rule
        raise AnnotationError(f"{where} = {box} {problem}")
    return boxes
