"""GPU training throughput of the trainer's hardware paths: layout, mixed precision and torch.compile.

Trains one model on a fixed random batch with SGD and prints images/s for: fp32 NCHW (the bare baseline),
fp32 channels_last, fp32 channels_last + in-place ReLUs/adds (cnnlab's default on CUDA), bf16 autocast +
channels_last, fp16 autocast with a grad scaler, and bf16 + torch.compile. Ratios are against the baseline measured
in the same run.

    python benchmarks/gpu_throughput.py [--model resnet20] [--batch 256] [--steps 50]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch
import torch.nn.functional as F

from cnnlab import create
from cnnlab.layers import set_inplace


def measure(model_name, batch, steps, *, channels_last, amp, compile_model, small_input, inplace=False):
    torch.manual_seed(0)
    kwargs = {"num_classes": 10, **({"small_input": True} if small_input else {})}
    model = create(model_name, **kwargs).cuda()
    set_inplace(model, enabled=inplace)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    forward = torch.compile(model) if compile_model else model
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda") if amp == "fp16" else None
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    cast = torch.autocast("cuda", dtype=dtype) if dtype else contextlib.nullcontext()
    x = torch.randn(batch, *model.input_size, device="cuda").contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), device="cuda")

    def step():
        with cast:
            loss = F.cross_entropy(forward(x), y)
        opt.zero_grad(set_to_none=True)
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    for _ in range(10 if compile_model else 5):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--small-input", action="store_true", help="ImageNet models at 32×32 (small_input=True)")
    args = parser.parse_args()
    variants = {
        "fp32 NCHW (baseline)": dict(channels_last=False, amp="off", compile_model=False),
        "fp32 channels_last": dict(channels_last=True, amp="off", compile_model=False),
        "fp32 channels_last + in-place (default)": dict(
            channels_last=True, amp="off", compile_model=False, inplace=True
        ),
        "bf16 channels_last": dict(channels_last=True, amp="bf16", compile_model=False),
        "fp16 channels_last + scaler": dict(channels_last=True, amp="fp16", compile_model=False),
        "bf16 channels_last + compile": dict(channels_last=True, amp="bf16", compile_model=True),
    }
    print(f"{args.model}, batch {args.batch}, {torch.cuda.get_device_name()}, torch {torch.__version__}")
    base = None
    for name, kw in variants.items():
        rate = measure(args.model, args.batch, args.steps, small_input=args.small_input, **kw)
        base = base or rate
        print(f"{name:40s} {rate:10.0f} images/s  {rate / base:5.2f}×")


if __name__ == "__main__":
    main()
