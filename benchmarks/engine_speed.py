"""CPU training throughput: resnet20 on 32×32 batches of 128, cnnlab's default path against bare NCHW eager.

"bare" is what plain PyTorch does by default: contiguous (NCHW) tensors. "cnnlab" is what the trainer picks by
default: channels_last for conv nets. Both train the same model on the same random batch with the same SGD. The
two alternate round by round and the median of the per-round ratios is reported, because this machine's speed
drifts by ±20% between rounds. Target: ratio ≥ 1.25.

    python benchmarks/engine_speed.py [--model resnet20] [--batch 128] [--rounds 8]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from cnnlab import create
from cnnlab.engine.optim import create_optimizer
from cnnlab.engine.setup import memory_format_for


def images_per_second(model_name: str, batch: int, steps: int, *, cnnlab_path: bool) -> float:
    torch.manual_seed(0)
    model = create(model_name, num_classes=10)
    fmt = memory_format_for("auto", model) if cnnlab_path else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = create_optimizer(model.parameters(), "sgd", lr=0.01, momentum=0.9)
    x = torch.randn(batch, *model.input_size).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,))
    for _ in range(3):  # warm-up
        F.cross_entropy(model(x), y).backward()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    bare, ours = [], []
    for _ in range(args.rounds):
        bare.append(images_per_second(args.model, args.batch, args.steps, cnnlab_path=False))
        ours.append(images_per_second(args.model, args.batch, args.steps, cnnlab_path=True))
    ratios = sorted(o / b for o, b in zip(ours, bare, strict=True))
    layout = "channels_last" if memory_format_for("auto", create(args.model)) == torch.channels_last else "NCHW"
    print(f"{args.model}, batch {args.batch}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"bare NCHW eager            {statistics.median(bare):8.1f} images/s (median of rounds)")
    print(f"cnnlab default ({layout}) {statistics.median(ours):8.1f} images/s")
    print(f"ratio cnnlab / bare = {statistics.median(ratios):.3f} (median of {args.rounds} paired rounds; "
          f"range {ratios[0]:.2f}–{ratios[-1]:.2f})  (target ≥ 1.25)")  # fmt: skip


if __name__ == "__main__":
    main()
