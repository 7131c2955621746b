"""Train the scratch LeNet-5 on the embedded digits with several seeds; print test accuracy mean ± std and time.

The accuracy in benchmarks/README.md ("≥ 97% test accuracy") rests on this run, not on one lucky seed.

    .venv/bin/python benchmarks/scratch_digits.py                       # tanh / average pooling, seeds 0-4
    .venv/bin/python benchmarks/scratch_digits.py --act relu --pool max --seeds 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..S-1 (default: 5)")
    parser.add_argument("--act", default="tanh", help="LeNet-5 activation (default: tanh)")
    parser.add_argument("--pool", default="avg", choices=("avg", "max"), help="LeNet-5 pooling (default: avg)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default: 1; LeNet's matrices are small)")
    args = parser.parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # read once, when NumPy's BLAS loads
    import numpy as np

    from cnnlab.data import load_digits
    from cnnlab.scratch.models import build_scratch_model
    from cnnlab.scratch.train import fit

    train, test = load_digits("train"), load_digits("test")
    accuracies, seconds = [], []
    for seed in range(args.seeds):
        model = build_scratch_model("lenet5", input_size=8, act=args.act, pool=args.pool, seed=seed)
        result = fit(model, train, test, seed=seed, log=None)
        accuracies.append(result.test_accuracy)
        seconds.append(result.seconds)
        print(f"seed {seed}: test accuracy {result.test_accuracy:.2%} in {result.seconds:.1f}s", flush=True)
    config = {k: v for k, v in result.config.items() if k not in ("model_config", "seed")}
    print(f"config: {config}, act={args.act}, pool={args.pool}, numpy {np.__version__}")
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    print(
        f"test accuracy {statistics.mean(accuracies):.2%} ± {spread:.2%} (mean ± std over {args.seeds} seeds), "
        f"min {min(accuracies):.2%}, max {max(accuracies):.2%}; {statistics.mean(seconds):.1f}s per run"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
