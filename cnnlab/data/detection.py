"""The detection dataset: images with per-image boxes and class labels, convertible to a COCO dictionary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from ..errors import ShapeError


@dataclass(frozen=True, eq=False)
class DetectionDataset:
    """Images with boxes and labels.

    Attributes:
        images: (N, C, H, W) float32 in [0, 1] when all images share one size, else a list of (C, H_i, W_i).
        boxes: per image an (n_i, 4) float32 tensor of boxes (x0, y0, x1, y1) in pixels; pixel (x, y) covers
            [x, x+1) × [y, y+1), so a box around pixels 2..5 of a row spans x0=2, x1=6.
        labels: per image an (n_i,) int64 tensor of class ids (index into `classes`).
        classes: class names.
        name: dataset name and split, e.g. 'shapes-detection/train'.
        mean, std: per-channel statistics of the training split.
        category_ids: the COCO category id of each class (default 1..K, COCO's convention).
        image_ids: the COCO image id of each image (default 1..N).
        file_names: the file name of each image in a COCO export (default '000001.png', ...).
        crowd: per image an (n_i,) bool tensor of COCO `iscrowd` flags (default all False).
    """

    images: torch.Tensor | list[torch.Tensor]
    boxes: list[torch.Tensor]
    labels: list[torch.Tensor]
    classes: tuple[str, ...]
    name: str = ""
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    category_ids: tuple[int, ...] | None = None
    image_ids: tuple[int, ...] | None = None
    file_names: tuple[str, ...] | None = None
    crowd: list[torch.Tensor] | None = None

    def __post_init__(self) -> None:
        where = self.name or "detection dataset"
        n = len(self.images)
        for field, value in (("boxes", self.boxes), ("labels", self.labels), ("crowd", self.crowd)):
            if value is not None and len(value) != n:
                raise ShapeError(f"{where}: {n} images but {len(value)} entries of {field}")
        for field, value in (("category_ids", self.category_ids), ("image_ids", self.image_ids)):
            if value is not None and len(set(value)) != len(value):
                raise ShapeError(f"{where}: {field} must be unique")
        if self.category_ids is not None and len(self.category_ids) != len(self.classes):
            raise ShapeError(f"{where}: {len(self.classes)} classes but {len(self.category_ids)} category ids")
        for i, (b, lab) in enumerate(zip(self.boxes, self.labels, strict=True)):
            if b.dim() != 2 or b.shape[1] != 4 or lab.shape != (b.shape[0],):
                raise ShapeError(f"{where}: image {i} has boxes {tuple(b.shape)} and labels {tuple(lab.shape)}")
            if b.numel() and bool((b[:, 2:] < b[:, :2]).any()):
                raise ShapeError(f"{where}: image {i} has a box with x1 < x0 or y1 < y0 (boxes are x0, y0, x1, y1)")
            if lab.numel() and not 0 <= int(lab.min()) <= int(lab.max()) < len(self.classes):
                raise ShapeError(f"{where}: image {i} has a label outside 0..{len(self.classes) - 1}")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Image i and its target {'boxes', 'labels'} (the torchvision detection convention)."""
        return self.images[i], {"boxes": self.boxes[i], "labels": self.labels[i]}

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def input_size(self) -> tuple[int, int, int]:
        """(C, H, W) of one image, when all images share one size."""
        if not torch.is_tensor(self.images):
            raise ShapeError(f"{self.name or 'detection dataset'}: its images come in several sizes")
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def subset(self, indices: torch.Tensor | slice, name: str | None = None) -> DetectionDataset:
        """The images at `indices` with their boxes (COCO image ids and file names are kept; statistics too)."""
        picked = list(range(len(self)))[indices] if isinstance(indices, slice) else [int(i) for i in indices]

        def take(values):
            return None if values is None else type(values)(values[i] for i in picked)

        images = self.images[picked] if torch.is_tensor(self.images) else [self.images[i] for i in picked]
        ids = self.image_ids or tuple(range(1, len(self) + 1))
        return replace(self, images=images, boxes=[self.boxes[i] for i in picked],
                       labels=[self.labels[i] for i in picked], crowd=take(self.crowd),
                       image_ids=tuple(ids[i] for i in picked), file_names=take(self.file_names),
                       name=name or self.name)  # fmt: skip

    def image_size(self, i: int) -> tuple[int, int]:
        """(H, W) of image i."""
        h, w = self.images[i].shape[-2:]
        return int(h), int(w)

    def to(self, device: torch.device | str) -> DetectionDataset:
        """The same dataset with its tensors on `device`."""
        images = self.images.to(device) if torch.is_tensor(self.images) else [x.to(device) for x in self.images]
        return replace(
            self, images=images, boxes=[b.to(device) for b in self.boxes], labels=[t.to(device) for t in self.labels]
        )

    def to_coco(self) -> dict:
        """The dataset's annotations as a COCO detection dictionary (images, annotations, categories).

        Boxes become [x, y, width, height]; the area of a box-only annotation is width × height, as pycocotools
        computes it for detections (`COCO.loadRes`). Annotation ids run 1, 2, ... in image order.
        """
        cat_ids = self.category_ids or tuple(range(1, len(self.classes) + 1))
        img_ids = self.image_ids or tuple(range(1, len(self) + 1))
        names = self.file_names or tuple(f"{i:06d}.png" for i in img_ids)
        images, annotations = [], []
        for i in range(len(self)):
            h, w = self.image_size(i)
            images.append({"id": img_ids[i], "file_name": names[i], "width": w, "height": h})
            crowd = self.crowd[i].tolist() if self.crowd is not None else [False] * len(self.labels[i])
            for box, label, is_crowd in zip(self.boxes[i].tolist(), self.labels[i].tolist(), crowd, strict=True):
                x0, y0, x1, y1 = box
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": img_ids[i],
                        "category_id": cat_ids[label],
                        "bbox": [x0, y0, x1 - x0, y1 - y0],
                        "area": (x1 - x0) * (y1 - y0),
                        "iscrowd": int(is_crowd),
                    }
                )
        categories = [{"id": c, "name": name} for c, name in zip(cat_ids, self.classes, strict=True)]
        return {"images": images, "annotations": annotations, "categories": categories}


def stack_if_equal(images: Sequence[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    """One (N, C, H, W) tensor when all images share a size, else the list itself."""
    if images and all(x.shape == images[0].shape for x in images):
        return torch.stack(list(images))
    return list(images)
