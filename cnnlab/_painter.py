"""A process that draws a training run's figures beside it (`python -m cnnlab._painter`), and `Painter`, the
run's end of it.

matplotlib's import and first drawing (fonts, lazily imported modules) cost a second or two of CPU: this process
pays them on another core while the run trains, then draws each figure the run sends, so that a run's pictures
add little to its wall time. It imports neither torch nor the run's code.

Input: JSON lines on stdin, each {"path": file to write, "figure": a name of `_figures.FIGURES`, "args": its keyword
arguments}; each figure is written atomically as it arrives. A line whose path is null is a rehearsal: the figure is
drawn and kept, not written, so that the run's final figure of that kind is drawn into it, its axes and ticks
already made (the curves take about a quarter less time; the pixels are the same). End of input ends the process. A
failure is one line on stderr and exit status 1 (the run reports it and keeps its results).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class Painter:
    """A child process (`cnnlab._painter`) that imports matplotlib while the run trains and then draws the figures
    sent to it, so that a run's pictures cost little of its wall time. A failure to draw is reported by `finish`,
    never raised into the run."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[1])  # the folder holding the cnnlab package
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cnnlab._painter"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            start_new_session=True,
        )  # fmt: skip  (its own group: Ctrl-C is the run's)
        self.broken = False

    def draw(self, path: Path | None, figure: str, args: Mapping[str, Any]) -> None:
        """Draw `figure` (a name of `_figures.FIGURES`) with `args` into `path`; None: a rehearsal, drawn not written,
        which the next figure of that kind is drawn into."""
        if self.broken:
            return
        message = {"path": None if path is None else str(path), "figure": figure, "args": args}
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):  # it ended early: finish() says why
            self.broken = True

    def finish(self, timeout: float = 300.0) -> str | None:
        """Wait until every figure sent is written; returns None, or one line saying why some were not."""
        try:
            _, err = self.process.communicate(timeout=timeout)
        except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
            self.kill()
            return f"the pictures took more than {timeout:.0f} s to draw"
        if self.process.returncode != 0:
            lines = (err or "").strip().splitlines()
            return lines[-1] if lines else f"the drawing process ended with status {self.process.returncode}"
        return None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def warm_up() -> None:
    """Import what drawing needs (matplotlib's Agg canvas and its font list) while the run trains; the first
    figures, the run's rehearsal, pay for the rest."""
    from matplotlib import figure  # noqa: F401
    from matplotlib.backends import backend_agg  # noqa: F401


def main() -> int:
    from . import _figures

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle: it stops this process
    kept: dict[str, Any] = {}  # the last figure of each reusable kind, to draw the next one into
    try:
        warm_up()
        for line in sys.stdin:
            message = json.loads(line)
            name, args = message["figure"], message["args"]
            if name in _figures.REUSABLE:
                figure = kept[name] = _figures.FIGURES[name](**args, into=kept.get(name))
            else:
                figure = _figures.FIGURES[name](**args)
            if message["path"] is None:
                figure.canvas.draw()  # a rehearsal: makes the axes' ticks and texts, writes nothing
            else:
                _figures.save_figure(figure, message["path"])
    except Exception as exc:  # reported by the run in one line; a picture is never worth a traceback
        print(f"{type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    status = main()
    sys.stderr.flush()
    # every figure is written and closed: skip the interpreter's teardown (a quarter of a second with matplotlib
    # loaded), for which the run would otherwise wait
    os._exit(status)
