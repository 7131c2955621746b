"""What a run's pictures cost: a 10-epoch LeNet-5 `cnnlab train` with its pictures over the same run with
`--no-plots` (target ≤ 1.02×), and the seconds each picture takes to draw (target ≤ 1 s each).

Each repeat runs the command twice as fresh processes, in alternating order, with one torch thread (`--threads`
sets another count): the whole cost a user pays, matplotlib's import included. The ratio of medians is reported for
the process's CPU time (user + system, which load from other processes on a shared machine barely moves) and for
its wall time. Then each picture of the last run is drawn again in this process, timed on its own (matplotlib
already imported). Last, one run in this process times the steps on the run's own path (starting the painter, the
test split's pictures, waiting for the painter): the wall time the pictures add when a core is free for the
painter, free of the machine's drift.

    .venv/bin/python benchmarks/pictures.py                                   # digits: 1,437 training images
    .venv/bin/python benchmarks/pictures.py --mnist ../shared/data/mnist-t10k  # MNIST 8,000 / 2,000 too
    .venv/bin/python benchmarks/pictures.py --mnist ../shared/data/mnist-t10k --path-only
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from cnnlab import _figures as figures
from cnnlab.engine.pictures import curves_spec, model_specs, run_figures, view_run


def run_once(argv: list[str], out: Path, threads: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one `cnnlab train` process on `threads` torch threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "cnnlab", "train", *argv, "--no-progress", "--out", str(out)],
                             stdout=subprocess.DEVNULL, env=env)  # fmt: skip
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"cnnlab train {' '.join(argv)} failed")
    return usage.ru_utime + usage.ru_stime, wall


def measure(name: str, argv: list[str], repeats: int, work: Path, threads: int) -> Path:
    times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    last = work
    for r in range(repeats):
        for plots in (r % 2 == 0, r % 2 == 1):  # alternate which side goes first
            last = work / f"{name}-{r}-{plots}"
            times[plots].append(run_once([*argv, "--plots" if plots else "--no-plots"], last, threads))
            if plots:
                drawn = last
    for i, what in enumerate(("CPU", "wall")):
        on = statistics.median(t[i] for t in times[True])
        off = statistics.median(t[i] for t in times[False])
        print(f"{name}: {what} time with pictures {on:.2f} s, without {off:.2f} s: ×{on / off:.3f} ({on - off:+.2f} s)")
    return drawn


SPENT: dict[str, float] = {}  # seconds per timed step of the run's pictures


def _time_the_pictures() -> None:
    """Wrap (once) the trainer's steps that serve its pictures in timers adding to SPENT."""
    from cnnlab.engine import trainer

    if getattr(trainer, "_timed", False):
        return

    def timed(name, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                SPENT[name] = SPENT.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    trainer.Painter = timed("start the painter", trainer.Painter)
    for method in ("_rehearse", "_paint_curves", "_paint_test", "_finish_painting"):
        setattr(trainer.Trainer, method, timed(method, getattr(trainer.Trainer, method)))
    trainer._timed = True


def on_the_runs_path(argv: list[str], work: Path) -> None:
    """The seconds the run itself spends on its pictures, timed inside one training process: starting the painter,
    handing it curves.png, the test split's pictures (predictions, image grids) and waiting for the painter to
    finish. On a machine with a core to spare this is all the wall time the pictures add; the painter's own work
    (importing matplotlib, drawing) runs beside the training."""
    from cnnlab.cli import _train_config, build_parser
    from cnnlab.engine.trainer import train

    SPENT.clear()
    _time_the_pictures()
    config = _train_config(build_parser().parse_args(["train", *argv, "--plots", "--no-progress"]))
    started = time.perf_counter()
    result = train(dataclasses.replace(config, out=str(work / "timed")), log=lambda _: None)
    wall = time.perf_counter() - started
    total = sum(SPENT.values())
    parts = ", ".join(f"{name.strip('_')} {seconds:.3f} s" for name, seconds in SPENT.items())
    print(f"  on the run's own path: {total:.3f} s of its {wall:.1f} s ({total / wall:.2%}): {parts}")
    print(f"  (training {result.seconds:.1f} s)")


def per_picture(run_dir: Path) -> None:
    view = view_run(run_dir)
    started = time.perf_counter()
    for name, figure in run_figures(view).items():  # once: matplotlib's one-time costs (fonts, lazy imports)
        figures.save_figure(figure, run_dir / f"warm-{name}")
    print(f"  all pictures, drawn the first time in this process: {time.perf_counter() - started:.3f} s")
    started = time.perf_counter()
    drawn = run_figures(view)
    print(f"  the figures built: {time.perf_counter() - started:.3f} s (the test split's predictions included)")
    for name, figure in drawn.items():
        started = time.perf_counter()
        figures.save_figure(figure, run_dir / f"again-{name}")
        print(f"  {name} rendered and written: {time.perf_counter() - started:.3f} s")
    specs = {"curves.png": curves_spec(view), **model_specs(view)}
    for name, (kind, what, args) in specs.items():
        if kind == "figure" and what in figures.REUSABLE:  # as the painter draws them after its rehearsal
            started = time.perf_counter()
            figures.save_figure(figures.FIGURES[what](**args, into=drawn[name]), run_dir / f"into-{name}")
            print(f"  {name} drawn into its earlier figure and written: {time.perf_counter() - started:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--mnist", metavar="DIR", help="also MNIST's t10k files, split 8,000 / 2,000")
    parser.add_argument("--path-only", action="store_true", help="only the time on the run's own path")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the run (1 leaves a core free)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = {"lenet5 on digits": ["lenet5", "--data", "digits", "--epochs", str(args.epochs)]}
    if args.mnist:
        cases["lenet5 on MNIST"] = ["lenet5", "--data", "mnist", "--data-dir", args.mnist, "--epochs", str(args.epochs),
                                    "--train-split", "test[:8000]", "--test-split", "test[8000:]"]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for name, argv in cases.items():
            if not args.path_only:
                per_picture(measure(name, argv, args.repeats, Path(folder), args.threads))
            print(name)
            on_the_runs_path(argv, Path(folder) / name.replace(" ", "-"))


if __name__ == "__main__":
    main()
