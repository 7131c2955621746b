"""`shapes`: a procedural image generator, deterministic from a seed, serving three tasks from one scene model.

Each image is a background (colour plus a linear gradient), distractor strokes (behind or in front), one or more
shapes of ten kinds, and pixel noise. Every shape is drawn from its signed distance function with one pixel of
anti-aliasing (coverage = clamp(0.5 − d, 0, 1)), so edges look the same at any position and rotation.

Determinism: the scenes of samples [1024·k, 1024·(k+1)) are drawn from the CPU generator of (seed, split, k), so
sample i depends only on (seed, split, i) — never on how many samples were asked for or which process draws them.
The random numbers drawn do not depend on the difficulty either: raising it morphs the same scenes (same labels)
into harder ones. Images are quantized to 1/255, so they survive a round trip through PNG exactly.

Difficulty d ∈ [0, 1] interpolates every nuisance factor linearly (see `_level`): smaller shapes, free position
and rotation, lower contrast, stronger noise and gradient, more strokes, some of them occluding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import ConfigError, unknown_name
from ._sdf import coverage, shape_sdf
from .dataset import TensorDataset, training_stats
from .detection import DetectionDataset
from .loader import generator

CLASSES = ("circle", "ring", "semicircle", "triangle", "square", "pentagon", "hexagon", "star", "cross", "bar")
CHUNK = 1024  # samples per generator: sample i is drawn from generator(seed, split, i // CHUNK)
STROKES = 8  # distractor-stroke slots per image; the difficulty decides how many are used
TASKS = ("classification", "multilabel", "detection")


def _level(difficulty: float) -> dict[str, float]:
    """Nuisance parameters at `difficulty`; lengths are fractions of a grid cell (the whole image for one shape)."""
    d = difficulty
    return {
        "r_min": 0.31 - 0.14 * d,  # smallest circumradius: 10 px of 32 at d=0, 5.4 px at d=1
        "r_max": 0.41,  # largest circumradius, 13 px of 32
        "spread": 0.1 + 0.9 * d,  # how far a shape may move from its cell's centre, fraction of the room it has
        "turn": 0.1 + 0.9 * d,  # rotation range as a fraction of ±180°
        "contrast": 0.6 - 0.4 * d,  # least largest-channel difference between a shape and the background
        "noise": 0.15 * d,  # standard deviation of the Gaussian pixel noise
        "gradient": 0.4 * d,  # largest brightness change of the background across the image
        "strokes": 8 * d,  # most distractor strokes
        "front": 0.5 * d,  # probability that a stroke is drawn in front of the shapes
    }


@dataclass(frozen=True)
class Scenes:
    """Rendered samples of the generator.

    Attributes:
        images: (N, 3, S, S) float32 in [0, 1], multiples of 1/255.
        kinds: (N, M) int64 class ids of the shapes in each image, -1 for an empty slot.
        boxes: (N, M, 4) float32 tight boxes (x0, y0, x1, y1) around the pixels each shape covers by more than
            half (strokes drawn over it do not shrink its box), zero for an empty slot.
    """

    images: torch.Tensor
    kinds: torch.Tensor
    boxes: torch.Tensor


def _draw(g: torch.Generator, grid: int, slots: int) -> dict[str, torch.Tensor]:
    """The uniform random numbers of one chunk; fixed shapes whatever the difficulty, so scenes morph with it."""
    c = CHUNK
    return {
        "kinds": torch.randint(len(CLASSES), (c, slots), generator=g),
        "count": torch.randint(1, slots + 1, (c,), generator=g),
        "cells": torch.argsort(torch.rand(c, grid * grid, generator=g), dim=1)[:, :slots],  # distinct cells
        "radius": torch.rand(c, slots, generator=g),
        "offset": torch.rand(c, slots, 2, generator=g) * 2 - 1,
        "angle": torch.rand(c, slots, generator=g) * 2 - 1,
        "colour": torch.rand(c, slots, 3, generator=g),
        "background": torch.rand(c, 3, generator=g),
        "gradient": torch.rand(c, 2, generator=g),  # direction, strength
        "strokes": torch.rand(c, generator=g),
        "stroke_ends": torch.rand(c, STROKES, 4, generator=g),
        "stroke_width": torch.rand(c, STROKES, generator=g),
        "stroke_colour": torch.rand(c, STROKES, 3, generator=g),
        "stroke_front": torch.rand(c, STROKES, generator=g),
    }


def _in_unit(v: torch.Tensor) -> torch.Tensor:
    return (v >= 0) & (v <= 1)


def _contrast(colour: torch.Tensor, background: torch.Tensor, least: float) -> torch.Tensor:
    """Push each colour's most different channel `least` away from the background (or to the far end of [0, 1]
    where the channel has no such room), keeping the side it was on where possible."""
    diff = colour - background.unsqueeze(1)  # (n, M, 3)
    k = diff.abs().argmax(dim=-1, keepdim=True)
    gap = diff.gather(-1, k)
    bg = background.unsqueeze(1).expand_as(colour).gather(-1, k)
    same = torch.where(gap >= 0, bg + least, bg - least)
    other = torch.where(gap >= 0, bg - least, bg + least)
    far = torch.where(bg < 0.5, 1.0, 0.0)
    target = torch.where(_in_unit(same), same, torch.where(_in_unit(other), other, far))
    fixed = torch.where(gap.abs() < least, target, colour.gather(-1, k))
    return colour.scatter(-1, k, fixed)


def _paint(img: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Composite `layers` of (coverage α (n, S, S), colour c (n, 3)), top layer first, over `img` (n, 3, S, S):
    Σ_j α_j·c_j·Π_{k<j}(1−α_k) + img·Π_k(1−α_k), Porter & Duff's 'over' operator unrolled front to back."""
    out = torch.zeros_like(img)
    clear = torch.ones_like(img[:, 0])  # Π_{k<j} (1 − α_k): how much of layer j is not hidden by those above
    for alpha, colour in layers:
        weight = alpha * clear
        out += weight.unsqueeze(1) * colour[:, :, None, None]
        clear -= weight
    return out + img * clear.unsqueeze(1)


def _render(p: dict[str, torch.Tensor], size: int, grid: int, level: dict[str, float], noise: torch.Tensor):
    n, slots = p["kinds"].shape
    cell = size / grid
    coords = torch.arange(size, dtype=torch.float32) + 0.5  # pixel centres
    ys, xs = coords.view(1, -1, 1), coords.view(1, 1, -1)

    # Background: a colour plus a linear gradient in a random direction, ±strength/2 across the image.
    theta = p["gradient"][:, 0] * 2 * math.pi
    ramp = (xs - size / 2) * torch.cos(theta).view(-1, 1, 1) + (ys - size / 2) * torch.sin(theta).view(-1, 1, 1)
    ramp = ramp / size * level["gradient"] * p["gradient"][:, 1].view(-1, 1, 1)  # (n, S, S)
    img = p["background"][:, :, None, None] + ramp.unsqueeze(1)

    # Distractor strokes: line segments of half-width 0.4–0.9 px; only the slots some image uses are drawn.
    used = torch.arange(STROKES).view(1, -1) < (p["strokes"] * (level["strokes"] + 1)).floor().view(-1, 1)
    drawn = int(used.sum(dim=1).max())
    used, front = used[:, :drawn], p["stroke_front"][:, :drawn] < level["front"]
    ends = p["stroke_ends"] * size  # (n, STROKES, 4)
    width = 0.4 + 0.5 * p["stroke_width"]
    stroke = torch.zeros(n, drawn, size, size)
    for j in range(drawn):
        idx = torch.nonzero(used[:, j]).squeeze(1)
        ax, ay, bx, by = (ends[idx, j, i, None, None] for i in range(4))
        ex, ey, wx, wy = bx - ax, by - ay, xs - ax, ys - ay
        t = ((wx * ex + wy * ey) / (ex * ex + ey * ey).clamp(min=1e-6)).clamp(0, 1)  # nearest point A + t·(B − A)
        stroke[idx, j] = coverage(torch.hypot(wx - t * ex, wy - t * ey) - width[idx, j, None, None])

    # Shapes, one per slot, each in its own grid cell.
    present = torch.arange(slots).view(1, -1) < p["count"].view(-1, 1)
    radius = cell * (level["r_min"] + (level["r_max"] - level["r_min"]) * p["radius"])  # (n, M)
    room = (cell / 2 - radius).clamp(min=0) * level["spread"]
    cx = (p["cells"] % grid + 0.5) * cell + p["offset"][..., 0] * room
    cy = (p["cells"] // grid + 0.5) * cell + p["offset"][..., 1] * room
    angle = p["angle"] * math.pi * level["turn"]
    colour = _contrast(p["colour"], p["background"], level["contrast"])
    boxes = torch.zeros(n, slots, 4)
    alphas = torch.zeros(n, slots, size, size)
    for j in range(slots):
        dx, dy = xs - cx[:, j, None, None], ys - cy[:, j, None, None]
        cos, sin = torch.cos(angle[:, j, None, None]), torch.sin(angle[:, j, None, None])
        px, py = cos * dx + sin * dy, cos * dy - sin * dx  # rotate into the shape's frame
        for k in range(len(CLASSES)):
            idx = torch.nonzero((p["kinds"][:, j] == k) & present[:, j]).squeeze(1)
            if idx.numel():
                alphas[idx, j] = coverage(shape_sdf(CLASSES[k], px[idx], py[idx], radius[idx, j, None, None]))
        boxes[:, j] = _bounds(alphas[:, j] > 0.5)
    # Layers top first: strokes in front, the shapes, strokes behind.
    strokes = [(stroke[:, j], p["stroke_colour"][:, j], used[:, j], front[:, j]) for j in range(drawn)]
    layers = [(a * (u & f).view(-1, 1, 1), c) for a, c, u, f in strokes]
    layers += [(alphas[:, j], colour[:, j]) for j in range(slots)]
    layers += [(a * (u & ~f).view(-1, 1, 1), c) for a, c, u, f in strokes]
    img = _paint(img, layers)

    img = img + level["noise"] * noise
    img = torch.round(img.clamp(0, 1) * 255) / 255
    kinds = torch.where(present, p["kinds"], torch.full_like(p["kinds"], -1))
    return img, kinds, boxes * present.unsqueeze(-1)


def _bounds(mask: torch.Tensor) -> torch.Tensor:
    """Tight (x0, y0, x1, y1) pixel boxes of (n, S, S) masks; pixel (x, y) covers [x, x+1) × [y, y+1)."""
    size = mask.shape[-1]
    idx = torch.arange(size, dtype=torch.float32)
    cols, rows = mask.any(dim=1), mask.any(dim=2)  # (n, S): which columns / rows hold the shape

    def span(hit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lo = torch.where(hit, idx, float(size)).amin(dim=1)
        hi = torch.where(hit, idx + 1, 0.0).amax(dim=1)
        return lo, hi

    x0, x1 = span(cols)
    y0, y1 = span(rows)
    return torch.stack([x0, y0, x1, y1], dim=1) * mask.flatten(1).any(dim=1, keepdim=True)


def generate_shapes(
    n: int,
    *,
    seed: int = 0,
    split: int = 0,
    difficulty: float = 0.5,
    max_objects: int = 1,
    image_size: int = 32,
) -> Scenes:
    """Render samples 0..n-1 of the stream (seed, split).

    Args:
        n: number of samples.
        seed, split: select the stream; sample i depends only on (seed, split, i).
        difficulty: 0 (large, centred, upright, clean shapes) to 1 (small, anywhere, any rotation, low contrast,
            noise, gradient, up to 8 strokes, half of them occluding).
        max_objects: 1 for one shape per image; otherwise 1..max_objects shapes in distinct cells of a
            ⌈√max_objects⌉² grid.
        image_size: side S of the square images; sizes scale with it.
    """
    if n < 0:
        raise ConfigError(f"shapes: the number of samples must be ≥ 0, got {n}")
    if not 0 <= difficulty <= 1:
        raise ConfigError(f"shapes: difficulty must lie in [0, 1], got {difficulty}")
    if not 1 <= max_objects <= 9:
        raise ConfigError(f"shapes: max_objects must lie in 1..9, got {max_objects}")
    if image_size < 16:
        raise ConfigError(f"shapes: image_size must be at least 16 pixels, got {image_size}")
    grid = math.ceil(math.sqrt(max_objects))
    level = _level(float(difficulty))
    images = torch.empty(n, 3, image_size, image_size)
    kinds = torch.empty(n, max_objects, dtype=torch.int64)
    boxes = torch.empty(n, max_objects, 4)
    for start in range(0, n, CHUNK):
        g = generator(seed, split, start // CHUNK)
        params = _draw(g, grid, max_objects)
        noise = torch.randn(CHUNK, 3, image_size, image_size, generator=g)
        stop = min(start + CHUNK, n)
        part = {key: value[: stop - start] for key, value in params.items()}
        images[start:stop], kinds[start:stop], boxes[start:stop] = _render(
            part, image_size, grid, level, noise[: stop - start]
        )
    return Scenes(images, kinds, boxes)


SPLITS = {"train": 0, "test": 1}


def load_shapes(
    split: str = "train",
    *,
    task: str = "classification",
    difficulty: float = 0.5,
    seed: int = 0,
    n_train: int = 10_000,
    n_test: int = 2_000,
    image_size: int = 32,
    max_objects: int | None = None,
) -> TensorDataset | DetectionDataset:
    """The `shapes` data set for one task.

    Args:
        split: 'train' or 'test' (independent streams of the same generator).
        task: 'classification' (one shape, int64 targets), 'multilabel' (1..max_objects shapes, (N, 10) float 0/1
            targets for per-class logistic outputs) or 'detection' (a `DetectionDataset` with a box per shape).
        difficulty: 0..1, see `generate_shapes`; 0.5 by default.
        seed: selects the data; the same seed gives the same images in any process.
        n_train, n_test: split sizes (the test split's normalization uses the training split's statistics, so
            both sizes matter for either split).
        image_size: side of the square RGB images.
        max_objects: shapes per image at most; 1 for classification, 4 (a 2×2 grid) by default otherwise.
    """
    if split not in SPLITS:
        raise unknown_name("shapes split", split, SPLITS)
    if task not in TASKS:
        raise unknown_name("shapes task", task, TASKS)
    if max_objects is None:
        max_objects = 1 if task == "classification" else 4
    if task == "classification" and max_objects != 1:
        raise ConfigError("shapes: classification draws one shape per image; use task='multilabel' for several")
    n = n_train if split == "train" else n_test
    scenes = generate_shapes(
        n, seed=seed, split=SPLITS[split], difficulty=difficulty, max_objects=max_objects, image_size=image_size
    )
    # the test split's statistics are its training split's: remembered when a run loaded that split first
    key = ("shapes", seed, float(difficulty), max_objects, image_size, n_train)
    if split == "train":
        mean, std = training_stats(key, scenes.images)
    else:
        train = dict(seed=seed, split=0, difficulty=float(difficulty), max_objects=max_objects, image_size=image_size)
        mean, std = training_stats(key, lambda: generate_shapes(n_train, **train).images)
    name = f"shapes/{split}" if task == "classification" else f"shapes-{task}/{split}"
    present = scenes.kinds >= 0
    if task == "classification":
        targets = scenes.kinds[:, 0]
    elif task == "multilabel":
        # Column 0 collects the empty slots (kind −1) and is dropped: (N, M) ids -> (N, K) 0/1.
        targets = torch.zeros(n, len(CLASSES) + 1).scatter_(1, scenes.kinds + 1, 1.0)[:, 1:]
    else:
        return DetectionDataset(
            scenes.images,
            boxes=[b[m] for b, m in zip(scenes.boxes, present, strict=True)],
            labels=[k[m] for k, m in zip(scenes.kinds, present, strict=True)],
            classes=CLASSES,
            name=name,
            mean=mean,
            std=std,
        )
    return TensorDataset(scenes.images, targets, CLASSES, name=name, mean=mean, std=std)
