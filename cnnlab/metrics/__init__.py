"""Metrics: classification, boxes (IoU family, IoU losses, NMS) and detection (COCO mAP, VOC AP).

NumPy is the core; torch tensors are accepted where noted and never required. Metrics are pure functions that
return frozen dataclasses; formatting is separate (`format_coco`).
"""

from .detection import ClassAP, CocoResult, VocResult, coco_evaluate, format_coco, voc_ap, voc_evaluate

__all__ = [
    "ClassAP",
    "CocoResult",
    "VocResult",
    "coco_evaluate",
    "format_coco",
    "voc_ap",
    "voc_evaluate",
]
