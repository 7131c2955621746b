"""CPU training throughput: resnet20 on 32×32 batches of 128, cnnlab's default path against bare NCHW eager.

Both train the same model on the same random batch with SGD; "bare" keeps PyTorch's default contiguous (NCHW)
layout, "cnnlab" uses what the trainer picks by default (channels_last for conv nets). Also prints the other
layout choices, so the default can be checked. Target: ratio ≥ 1.25.

    python benchmarks/engine_speed.py [--model resnet20] [--batch 128] [--steps 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from cnnlab import create
from cnnlab.engine.trainer import _memory_format


def images_per_second(model_name: str, batch: int, steps: int, memory_format: torch.memory_format) -> float:
    torch.manual_seed(0)
    model = create(model_name, num_classes=10).to(memory_format=memory_format)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, *model.input_size).contiguous(memory_format=memory_format)
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
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    default = _memory_format("auto", create(args.model))
    results: dict[str, list[float]] = {"bare NCHW": [], "cnnlab default": []}
    for _ in range(args.rounds):  # alternate, so drifting machine load hits both alike
        results["bare NCHW"].append(images_per_second(args.model, args.batch, args.steps, torch.contiguous_format))
        results["cnnlab default"].append(images_per_second(args.model, args.batch, args.steps, default))
    bare, ours = (statistics.median(v) for v in results.values())
    print(f"{args.model}, batch {args.batch}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"bare NCHW eager       {bare:8.1f} images/s")
    print(
        f"cnnlab default        {ours:8.1f} images/s  ({'channels_last' if default == torch.channels_last else 'NCHW'})"
    )
    print(f"ratio cnnlab / bare = {ours / bare:.3f}  (target ≥ 1.25)")


if __name__ == "__main__":
    main()
