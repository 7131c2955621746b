"""CPU training throughput: resnet20 on 32×32 batches of 128, cnnlab's default path against bare NCHW eager.

"bare" is what plain PyTorch does by default: contiguous (NCHW) tensors, out-of-place layers. "cnnlab" is what the
trainer does by default (`cnnlab.engine.setup.speed_settings`): channels_last for conv nets, ReLUs and residual
adds in place where autograd allows; its layers also keep a channels_last network's gradients channels_last
(global pooling, the option-A shortcut and the flatten before the head), which plain NCHW does not need.
"channels_last only" is the middle step: the layout alone. All three train the same model (same weights) on the
same random batch with the same SGD.

This machine's speed drifts by ±10–20% within a minute, so the variants alternate step by step (in rotating
order) and the median of the per-step ratios is reported, with its quartiles. Target: cnnlab / bare ≥ 1.25.

    python benchmarks/engine_speed.py [--model resnet20] [--batch 128] [--steps 60]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from cnnlab import create
from cnnlab.engine import TrainConfig
from cnnlab.engine.optim import create_optimizer
from cnnlab.engine.setup import speed_settings


def make_step(model_name: str, batch: int, variant: str) -> Callable[[], None]:
    torch.manual_seed(0)
    model = create(model_name, num_classes=10)
    if variant == "cnnlab":
        fmt = speed_settings(model, TrainConfig(model=model_name))  # the trainer's defaults
    elif variant == "channels_last only":
        fmt = torch.channels_last
    else:
        fmt = torch.contiguous_format
    model = model.to(memory_format=fmt).train()
    opt = create_optimizer(model.parameters(), "sgd", lr=0.01, momentum=0.9)
    x = torch.randn(batch, *model.input_size, generator=torch.Generator().manual_seed(1)).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), generator=torch.Generator().manual_seed(2))

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=60, help="timed steps of each variant")
    args = parser.parse_args()
    variants = ["bare", "channels_last only", "cnnlab"]
    steps = {v: make_step(args.model, args.batch, v) for v in variants}
    for _ in range(3):  # warm-up: oneDNN primitives, allocator
        for v in variants:
            steps[v]()
    times: dict[str, list[float]] = {v: [] for v in variants}
    for i in range(args.steps):
        for v in variants[i % 3 :] + variants[: i % 3]:
            start = time.perf_counter()
            steps[v]()
            times[v].append(time.perf_counter() - start)

    print(f"{args.model}, batch {args.batch}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.steps} steps of each variant, interleaved")  # fmt: skip
    for v in variants:
        speed = args.batch / statistics.median(times[v])
        if v == "bare":
            print(f"{v:20s} {speed:7.1f} images/s (median step)")
            continue
        ratios = sorted(b / o for b, o in zip(times["bare"], times[v], strict=True))
        q1, q3 = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
        print(f"{v:20s} {speed:7.1f} images/s   ratio to bare {statistics.median(ratios):.3f} "
              f"(median of per-step ratios; quartiles {q1:.3f}–{q3:.3f})")  # fmt: skip
    print("target: cnnlab / bare ≥ 1.25")


if __name__ == "__main__":
    main()
