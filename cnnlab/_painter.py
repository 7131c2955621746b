"""A process that draws a training run's figures beside it (`python -m cnnlab._painter`), and `Painter`, the
run's end of it.

matplotlib's import and first drawing (fonts, lazily imported modules) cost a second or two of CPU: this process
pays them on another core while the run trains, then draws each figure the run sends, so that a run's pictures
add little to its wall time. It imports neither torch nor the run's code.

Input: JSON lines on stdin, each {"path": file to write, "figure": a name of `_figures.FIGURES`, "args": its keyword
arguments}; each figure is written atomically as it arrives. A line whose path is null is a rehearsal: the figure is
drawn and kept, not written, so that the run's final figure of that kind is drawn into it, its axes and ticks
already made (the curves take a third to half less time; the pixels are the same). On Linux each figure to write is
drawn in a forked copy of this process, so that the run's last figures (the curves, then the confusion matrix a
moment later) are drawn side by side on two cores, every import and rehearsal already paid. End of input ends the
process once every figure is written. A failure is one line on stderr and exit status 1 (the run reports it and
keeps its results).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any


class Painter:
    """A child process (`cnnlab._painter`) that imports matplotlib while the run trains and then draws the figures
    sent to it, so that a run's pictures cost little of its wall time. A failure to draw is reported by `finish`,
    never raised into the run."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[1])  # the folder holding the cnnlab package
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path, "OPENBLAS_NUM_THREADS": "1"}  # no BLAS threads: it forks
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
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # its group: the copies drawing a figure too
            except (AttributeError, OSError):  # no process groups (Windows), or already gone
                self.process.kill()
            self.process.wait()


def warm_up() -> None:
    """Import what drawing needs (matplotlib's Agg canvas and its font list) while the run trains; the first
    figures, the run's rehearsal, pay for the rest."""
    from matplotlib import figure  # noqa: F401
    from matplotlib.backends import backend_agg  # noqa: F401


FORKS = sys.platform == "linux"  # a forked copy draws each figure to write (see the module's docstring)


def main() -> int:
    from . import _figures

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle: it stops this process
    kept: dict[str, list] = {}  # the figures of each reusable kind drawn so far, to draw the next ones into
    copies: list[int] = []  # the forked copies drawing a figure
    try:
        warm_up()
        for line in sys.stdin:
            message = json.loads(line)
            name, args = message["figure"], message["args"]
            if name in _figures.REUSABLE:
                drawn = kept.setdefault(name, [])
                figure = _figures.FIGURES[name](**args, into=drawn)
                if not any(figure is earlier for earlier in drawn):
                    drawn.append(figure)
            else:
                figure = _figures.FIGURES[name](**args)
            if message["path"] is None:
                figure.canvas.draw()  # a rehearsal: makes the axes' ticks and texts, writes nothing
            elif FORKS and (pid := _fork(partial(_figures.save_figure, figure, message["path"]))):
                copies.append(pid)
            else:
                _figures.save_figure(figure, message["path"])
    except Exception as exc:  # reported by the run in one line; a picture is never worth a traceback
        _report(exc)
        return 1
    finally:
        failed = [pid for pid in copies if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    return 1 if failed else 0


def _fork(work) -> int | None:
    """Do `work` in a forked copy of this process; returns its pid, or None when no process could be made (the
    caller does the work). The copy reports a failure as `main` does, on the same stderr, and ends with status 1."""
    sys.stderr.flush()
    gc.freeze()  # the collector in the copy leaves the parent's objects, and the pages holding them, untouched
    try:
        pid = os.fork()
    except OSError:  # no process to spare
        return None
    if pid:
        return pid
    status = 0
    try:
        work()
    except Exception as exc:
        _report(exc)
        status = 1
    finally:
        sys.stderr.flush()
        os._exit(status)  # never the parent's code: its loop, its clean-up


def _report(exc: Exception) -> None:
    print(f"{type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)


if __name__ == "__main__":
    status = main()
    sys.stderr.flush()
    # every figure is written and closed: skip the interpreter's teardown (a quarter of a second with matplotlib
    # loaded), for which the run would otherwise wait
    os._exit(status)
