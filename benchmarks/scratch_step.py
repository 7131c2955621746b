"""One training step of LeNet-5 on digit-sized images: the NumPy reference against PyTorch CPU eager.

A step is forward, softmax cross-entropy, backward and an SGD-with-momentum update, on the same float32 batch with
the same weights for both. Both sides get the same number of threads (BLAS for NumPy, intra-op for PyTorch), set
before NumPy loads. The two are timed in alternating rounds, so that load from other processes disturbs both alike;
the best round of each (the least disturbed) and the median of the rounds' ratios are reported. The ratio is what
to compare across machines.

    .venv/bin/python benchmarks/scratch_step.py                  # batch 32, 1 thread
    .venv/bin/python benchmarks/scratch_step.py --batch-size 128 --threads 2 --act relu --pool max
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=32, help="images per step (default: 32, as in training)")
    parser.add_argument("--threads", type=int, default=1, help="threads for both NumPy's BLAS and PyTorch")
    parser.add_argument("--act", default="tanh", help="LeNet-5 activation (default: tanh)")
    parser.add_argument("--pool", default="avg", choices=("avg", "max"), help="LeNet-5 pooling (default: avg)")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds of scratch and torch")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # read once, when NumPy's BLAS loads
    import numpy as np
    import torch
    import torch.nn.functional as F

    import cnnlab
    from cnnlab.scratch import SGD, SoftmaxCrossEntropy, input_grad_off
    from cnnlab.scratch.models import build_scratch_model
    from cnnlab.scratch.torch_bridge import to_torch

    torch.set_num_threads(args.threads)
    model = build_scratch_model("lenet5", input_size=8, act=args.act, pool=args.pool, seed=0)
    twin = to_torch(model)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch_size, 1, 8, 8)).astype(np.float32)
    t = rng.integers(0, 10, size=args.batch_size)
    x_t, t_t = torch.from_numpy(x), torch.from_numpy(t)

    loss_fn = SoftmaxCrossEntropy()
    opt = SGD(model.parameters(), 0.01, momentum=0.9)
    opt_t = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9)

    def scratch_step() -> None:
        with input_grad_off(model):  # as in training, and as autograd skips the images, which need no gradient
            loss_fn.forward(model.forward(x), t)
            model.backward(loss_fn.backward())
            opt.step()

    def torch_step() -> None:
        opt_t.zero_grad(set_to_none=True)
        F.cross_entropy(twin(x_t), t_t).backward()
        opt_t.step()

    def timed(step) -> float:
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        return (time.perf_counter() - start) / args.steps

    for step in (scratch_step, torch_step):  # warm-up: allocator, BLAS buffers, autograd graph caches
        timed(step)
    rounds = [(timed(scratch_step), timed(torch_step)) for _ in range(args.rounds)]
    best_scratch, best_torch = min(r[0] for r in rounds), min(r[1] for r in rounds)
    median_ratio = statistics.median(r[0] / r[1] for r in rounds)

    print(
        f"LeNet-5 training step, batch {args.batch_size}×1×8×8 (padded to 32×32), act={args.act}, pool={args.pool}, "
        f"float32, {args.threads} thread(s); cnnlab {cnnlab.__version__}, numpy {np.__version__}, "
        f"torch {torch.__version__}"
    )
    print(f"scratch (NumPy)   {best_scratch * 1e3:7.2f} ms/step (best of {args.rounds} rounds of {args.steps} steps)")
    print(f"torch CPU eager   {best_torch * 1e3:7.2f} ms/step")
    print(f"ratio scratch/torch {best_scratch / best_torch:.2f}× (best rounds), {median_ratio:.2f}× (median of the")
    print(f"  {args.rounds} alternating rounds' ratios); target ≤ 2×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
