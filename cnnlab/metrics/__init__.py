"""Metrics: classification, boxes (IoU family, IoU losses, NMS) and detection (COCO mAP, VOC AP).

NumPy is the core; torch tensors are accepted and never required (nothing here imports torch or the models).
Metrics are pure functions returning frozen dataclasses; formatting is separate (`format_coco`).
"""

from .boxes import (
    batched_nms,
    box_area,
    box_convert,
    box_iou,
    complete_box_iou,
    complete_box_iou_loss,
    distance_box_iou,
    distance_box_iou_loss,
    generalized_box_iou,
    generalized_box_iou_loss,
    nms,
)
from .classification import (
    MultilabelAP,
    PRCurve,
    PrecisionRecallF1,
    accuracy,
    average_precision,
    confusion_matrix,
    multilabel_average_precision,
    multilabel_precision_recall_f1,
    pr_curve,
    precision_recall_f1,
    top_k_accuracy,
)
from .detection import ClassAP, CocoResult, VocResult, coco_evaluate, format_coco, voc_ap, voc_evaluate

__all__ = [
    "ClassAP",
    "CocoResult",
    "MultilabelAP",
    "PRCurve",
    "PrecisionRecallF1",
    "VocResult",
    "accuracy",
    "average_precision",
    "batched_nms",
    "box_area",
    "box_convert",
    "box_iou",
    "coco_evaluate",
    "complete_box_iou",
    "complete_box_iou_loss",
    "confusion_matrix",
    "distance_box_iou",
    "distance_box_iou_loss",
    "format_coco",
    "generalized_box_iou",
    "generalized_box_iou_loss",
    "multilabel_average_precision",
    "multilabel_precision_recall_f1",
    "nms",
    "pr_curve",
    "precision_recall_f1",
    "top_k_accuracy",
    "voc_ap",
    "voc_evaluate",
]
