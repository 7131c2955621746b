"""Reading and writing image files with Pillow (imported only when images are touched)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def read_image(path: Path, *, grayscale: bool = False, size: tuple[int, int] | None = None) -> torch.Tensor:
    """The image at `path` as a (C, H, W) uint8 tensor (C = 3, or 1 when grayscale), resized to size=(H, W).

    An image whose header declares more pixels than Pillow's `Image.MAX_IMAGE_PIXELS` (about 89 million) is refused
    before any pixel is decoded: a file of a few bytes may declare gigabytes."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # Pillow only warns (two lines) up to twice its limit: refuse it too
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(path)  # reads the header and checks its declared size against the limit
        with opened as im:
            im = im.convert("L" if grayscale else "RGB")  # decodes the whole file: truncation shows up here
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # from the header alone
        raise DataError(f"{path}: refusing to decode it: {str(exc).rstrip('.')}; if the image is genuine, "
                        "resize it below that limit") from exc  # fmt: skip
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
