"""Imprecisions that need no experiment, only a number: each computed here, by cnnlab's own parts, when the report
is rendered. The report lists them with the refuted and nuanced verdicts of the studies.

Each entry states the common claim in cnnlab's words, what is actually the case, and the number that shows it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class Correction:
    """A claim, what holds instead, and the number that shows it (computed by `compute`)."""

    id: str
    topic: str
    claim: str
    correction: str
    compute: Callable[[], str]


def _precision_is_not_accuracy() -> str:
    from ..metrics.classification import accuracy, precision_recall_f1

    # 100 melons, 12 good: the picker takes 10, of which 8 are good
    targets = np.array([1] * 12 + [0] * 88)
    picked = np.array([1] * 8 + [0] * 4 + [1] * 2 + [0] * 86)
    prf = precision_recall_f1(targets, picked, num_classes=2)
    return (f"picking 10 of 100 melons, 8 of them among the 12 good ones: precision {prf.precision[1]:.2f}, "
            f"recall {prf.recall[1]:.2f}, accuracy {accuracy(targets, picked):.2f}")  # fmt: skip


def _decay_is_l2_only_for_sgd() -> str:
    """One step from w = (1, 1) with loss gradients (10, 0.01): weight decay λ in SGD equals the gradient of an
    L2 penalty ½λ‖w‖²; in Adam the coupled decay term is divided by √v̂ with the gradient, and here it changes
    nothing at all; AdamW's decoupled decay shrinks both weights by the same factor 1 − lr·λ."""
    lam, lr = 0.1, 0.01
    grad = torch.tensor([10.0, 0.01])

    def step(name: str, decay: float, penalty: float = 0.0) -> str:
        w = torch.ones(2, requires_grad=True)
        opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
        optimizer = opt([w], lr=lr, weight_decay=decay)
        ((w * grad).sum() + 0.5 * penalty * (w**2).sum()).backward()
        optimizer.step()
        return "(" + ", ".join(f"{v:.6f}" for v in w.detach().tolist()) + ")"

    return (f"one step from w = (1, 1) with gradients (10, 0.01), lr {lr}, λ {lam}: SGD with weight decay "
            f"{step('sgd', lam)} = SGD with an L2 penalty {step('sgd', 0.0, lam)}; Adam with weight decay "
            f"{step('adam', lam)} = Adam without it {step('adam', 0.0)}; AdamW {step('adamw', lam)}")  # fmt: skip


def _pooling_has_no_parameters() -> str:
    pool = nn.MaxPool2d(2)
    fc_without = nn.Linear(32 * 16 * 16, 10)
    fc_with = nn.Linear(32 * 8 * 8, 10)
    count = sum(p.numel() for p in pool.parameters())

    def n(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    return (f"a 2×2 max pool holds {count} parameters; before a 10-way fully connected layer on a 32×16×16 map it "
            f"cuts that layer from {n(fc_without):,} to {n(fc_with):,} parameters")  # fmt: skip


def _sigmoid_does_not_clip() -> str:
    def s(x: float) -> float:
        return 1 / (1 + math.exp(-x))

    return (f"σ(−1) = {s(-1):.3f}, σ(0) = {s(0):.3f}, σ(1) = {s(1):.3f}, σ(2) = {s(2):.3f}; "
            f"σ(x) ≥ 0.99 only for x ≥ {math.log(99):.2f}; σ′ ≤ {s(0) * (1 - s(0)):.2f} everywhere")  # fmt: skip


def _batchnorm_is_not_gaussian() -> str:
    g = torch.Generator().manual_seed(0)
    x = torch.empty(4096, 1).exponential_(generator=g)  # a skewed activation distribution
    y = nn.BatchNorm1d(1, affine=False)(x).detach().flatten()
    skew = float(((y - y.mean()) ** 3).mean() / y.std(unbiased=False) ** 3)
    return (f"exponential inputs after BatchNorm: mean {float(y.mean()):.3f}, std {float(y.std(unbiased=False)):.3f}, "
            f"skewness {skew:.2f} (a normal distribution has 0)")  # fmt: skip


def _basic_block_is_not_fully_connected() -> str:
    from ..layers import create_block

    block = create_block("basic_block", 256, norm="none", bias=False)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    fcs = [m for m in block.modules() if isinstance(m, nn.Linear)]
    params = sum(p.numel() for p in block.parameters())
    return f"{len(convs)} 3×3 convolutions, {len(fcs)} fully connected layers, {params:,} parameters"


CORRECTIONS: tuple[Correction, ...] = (
    Correction(
        "precision-accuracy", "Metrics: precision and recall",
        "The share of correct predictions among the items a model picks is its accuracy.",
        "That share is the precision; accuracy is the share of all items, picked or not, classified correctly. "
        "The two differ whenever the classes are unbalanced.",
        _precision_is_not_accuracy,
    ),
    Correction(
        "weight-decay-l2", "Regularization: weight decay",
        "Weight decay is the same thing as an L2 penalty.",
        "Only for plain SGD. An adaptive optimizer such as Adam divides the gradient, penalty included, by a running "
        "scale per weight, so coupled weight decay barely shrinks weights with large gradients; decoupled decay "
        "(AdamW) shrinks every weight by the same factor.",
        _decay_is_l2_only_for_sgd,
    ),
    Correction(
        "pooling-parameters", "Pooling: fewer parameters",
        "Pooling reduces the parameters of a network.",
        "A pooling layer has no parameters of its own to remove; it shrinks the feature map, and so the layers that "
        "follow a flatten (fully connected ones) need fewer. Convolutions after it keep their size.",
        _pooling_has_no_parameters,
    ),
    Correction(
        "sigmoid-range", "Activations: sigmoid",
        "The sigmoid turns inputs above 1 into 1.0 and inputs below 0 into 0.0.",
        "The sigmoid never reaches 0 or 1; it is 0.5 at 0 and 0.73 at 1, and approaches its limits only slowly.",
        _sigmoid_does_not_clip,
    ),
    Correction(
        "batchnorm-gaussian", "Normalization: BatchNorm",
        "BatchNorm makes its inputs follow the standard normal distribution N(0, 1).",
        "It shifts and scales each channel to mean 0 and variance 1 over the batch; the shape of the distribution "
        "is unchanged, so skewed inputs stay skewed.",
        _batchnorm_is_not_gaussian,
    ),
    Correction(
        "basic-block-naming", "Convolution: the 1×1 bottleneck",
        "The block the bottleneck is compared with (two 3×3 convolutions at 256 channels) is a fully connected layer.",
        "It is ResNet's basic block: two 3×3 convolutions, each weight shared across all positions; no layer in it "
        "is fully connected.",
        _basic_block_is_not_fully_connected,
    ),
)  # fmt: skip
