"""Reading and writing image files with Pillow (imported only when images are touched), and atomic writes."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def read_image(path: Path, *, grayscale: bool = False, size: tuple[int, int] | None = None) -> torch.Tensor:
    """The image at `path` as a (C, H, W) uint8 tensor (C = 3, or 1 when grayscale), resized to size=(H, W)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("L" if grayscale else "RGB")  # decodes the whole file: truncation shows up here
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(im)
    except UnidentifiedImageError as exc:
        raise DataError(f"{path}: not an image file Pillow can read; remove it or convert it to PNG/JPEG") from exc
    except OSError as exc:  # Pillow reports truncated and damaged files as OSError
        raise DataError(f"{path}: unreadable image ({exc}); the file is truncated or damaged") from exc
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)  # (H, W, C) -> (C, H, W)


def write_png(path: Path, image: torch.Tensor) -> None:
    """Save a (C, H, W) float image in [0, 1] (or uint8) as PNG, rounding to 8 bits."""
    from PIL import Image

    if image.dtype != torch.uint8:
        image = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    pixels = image.cpu().permute(1, 2, 0).numpy()  # (C, H, W) -> (H, W, C)
    Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(path, format="PNG")


def atomic_file(path: Path, write: Callable[[Path], None]) -> Path:
    """Call write(tmp) on a temporary file beside `path`, then rename it to `path`: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_dir(path: Path, fill: Callable[[Path], None]) -> Path:
    """Call fill(tmp) on a temporary folder beside `path`, then rename it to `path` (which must not hold files)."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise DataError(f"{path} already exists and is not an empty folder; choose a new output folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        fill(tmp)
        if path.exists():
            path.rmdir()
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path
