"""A picture grid of samples with their labels or boxes (Pillow, imported when a grid is drawn)."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from .._io import atomic_path
from ..errors import ConfigError, DataError
from .dataset import TensorDataset
from .detection import DetectionDataset

PALETTE = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
)  # fmt: skip  (Trubetskoy's 20 colours)
GAP = 4  # pixels between cells
CAPTION = 14  # pixels of text under each cell


def render_grid(images: list[torch.Tensor], captions: list[str], boxes=None, *, columns: int | None = None,
                cell: int = 96, dashed=None, title: str | None = None):  # fmt: skip
    """A PIL image: each (C, H, W) image in [0, 1] upscaled by an integer factor to about `cell` pixels (nearest
    neighbour, so pixels stay visible), its caption below, and optionally its boxes.

    Args:
        images: the images (1 or 3 channels).
        captions: one line per image.
        boxes: per image a list of ((x0, y0, x1, y1) in image pixels, class id, label text), or None.
        columns: images per row (default ⌈√n⌉).
        cell: target size of the longer side of each cell.
        dashed: per image a list of ((x0, y0, x1, y1), class id) drawn dashed (e.g. the ground truth beside
            predicted boxes), or None.
        title: a line above the grid, or None.
    """
    from PIL import Image, ImageDraw

    n = len(images)
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    h, w = (max(int(x.shape[d]) for x in images) for d in (1, 2))
    scale = max(1, cell // max(h, w, 1))  # an image of 0×0 pixels draws as an empty cell
    cw, ch = w * scale + GAP, h * scale + CAPTION + GAP
    canvas = Image.new("RGB", (columns * cw + GAP, rows * ch + GAP), "white")
    draw = ImageDraw.Draw(canvas)
    for i, image in enumerate(images):
        x0, y0 = GAP + (i % columns) * cw, GAP + (i // columns) * ch
        pixels = (image.detach().cpu().float().clamp(0, 1) * 255).round().to(torch.uint8)
        pixels = pixels.expand(3, -1, -1) if pixels.shape[0] == 1 else pixels
        tile = Image.fromarray(pixels.permute(1, 2, 0).numpy())  # (C, H, W) -> (H, W, C)
        canvas.paste(tile.resize((tile.width * scale, tile.height * scale), Image.Resampling.NEAREST), (x0, y0))
        for (bx0, by0, bx1, by1), label in dashed[i] if dashed is not None else ():
            rect = (x0 + bx0 * scale, y0 + by0 * scale, x0 + bx1 * scale - 1, y0 + by1 * scale - 1)
            _dashed_rectangle(draw, rect, PALETTE[label % len(PALETTE)])
        for (bx0, by0, bx1, by1), label, text in boxes[i] if boxes is not None else ():
            colour = PALETTE[label % len(PALETTE)]
            rect = (x0 + bx0 * scale, y0 + by0 * scale, x0 + bx1 * scale - 1, y0 + by1 * scale - 1)
            draw.rectangle(rect, outline=colour)
            if text:  # on a tag of the box's colour, so that it reads on any image
                corner = (rect[0] + 1, rect[1] + 1)
                draw.rectangle(draw.textbbox(corner, text), fill=colour)
                draw.text(corner, text, fill=_ink(colour))
        text = captions[i]
        while len(text) > 1 and draw.textlength(text) > cw - GAP:  # stops at "…" in a cell too narrow for it
            text = text[:-2] + "…"
        draw.text((x0, y0 + image.shape[1] * scale + 1), text, fill="black")
    return canvas if title is None else _titled(canvas, title)


def _titled(picture, title: str):
    """`picture` below a white strip holding `title` (Pillow's own scalable font where it has FreeType)."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=15)
    except (TypeError, ImportError):  # Pillow < 10.1, or without FreeType: its small bitmap font
        font = ImageFont.load_default()
    measure = ImageDraw.Draw(picture)
    left, top, right, bottom = measure.textbbox((0, 0), title, font=font)
    width = max(picture.width, right - left + 2 * GAP)
    canvas = Image.new("RGB", (width, picture.height + bottom - top + 3 * GAP), "white")
    ImageDraw.Draw(canvas).text(((width - (right - left)) // 2, 2 * GAP - top), title, fill="black", font=font)
    canvas.paste(picture, ((width - picture.width) // 2, bottom - top + 3 * GAP))
    return canvas


def _dashed_rectangle(draw, rect: tuple[float, float, float, float], colour, dash: int = 4) -> None:
    """The outline of `rect` (x0, y0, x1, y1) in dashes of `dash` pixels (Pillow draws only solid lines)."""
    x0, y0, x1, y1 = rect
    for (ax, ay), (bx, by) in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
        length = max(abs(bx - ax), abs(by - ay))
        for start in range(0, max(1, math.ceil(length)), 2 * dash):
            t0, t1 = start / max(length, 1), min(start + dash, length) / max(length, 1)
            draw.line((ax + (bx - ax) * t0, ay + (by - ay) * t0, ax + (bx - ax) * t1, ay + (by - ay) * t1), fill=colour)


def _ink(colour: tuple[int, int, int]) -> str:
    """Black or white text, whichever contrasts more with `colour` (ITU-R BT.601 luma)."""
    r, g, b = colour
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 128 else "white"


def save_grid(dataset, path: str | Path, *, n: int = 16, columns: int | None = None) -> Path:
    """Draw the first `n` samples of `dataset` with their class names (or boxes) and save a PNG atomically."""
    if n < 1:
        raise ConfigError(f"the grid needs at least one image, got n={n}")
    if len(dataset) == 0:
        raise DataError(f"{dataset.name or 'the data set'} holds no images, so there is no grid to draw")
    n = min(n, len(dataset))
    boxes = None
    if isinstance(dataset, DetectionDataset):
        images = [dataset.images[i] for i in range(n)]
        boxes = [
            [(b, int(k), dataset.classes[k]) for b, k in zip(dataset.boxes[i].tolist(), dataset.labels[i], strict=True)]
            for i in range(n)
        ]
        captions = [f"{len(b)} object{'s' * (len(b) != 1)}" for b in boxes]
    elif isinstance(dataset, TensorDataset):
        if dataset.images.shape[1] not in (1, 3):
            raise ConfigError(
                f"{dataset.name}: its samples have {dataset.images.shape[1]} channels (sequences or points, not "
                "pictures), so there is no picture grid to draw"
            )
        images = [dataset.images[i] for i in range(n)]
        if dataset.multilabel:
            captions = ["+".join(dataset.classes[k] for k in torch.nonzero(t).flatten()) for t in dataset.targets[:n]]
        else:
            captions = [dataset.classes[int(t)] for t in dataset.targets[:n]]
    else:  # a lazy data set: items are (uint8 image, class id)
        items = [dataset[i] for i in range(n)]
        images = [x.float() / 255 for x, _ in items]
        captions = [dataset.classes[int(y)] for _, y in items]
    picture = render_grid(images, captions, boxes, columns=columns)
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG")
    return Path(path)
