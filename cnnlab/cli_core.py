"""The core of the `cnnlab` command line, torch-free: the parser that reports usage errors in one line, the exit
statuses and one-line errors every command shares, and the commands that need no torch (`cnnlab map`).
`cnnlab.cli` builds the full command line from these parts; `python -m cnnlab map ...` (and the `cnnlab` script) runs
a torch-free command from here directly, without the seconds of CPU that importing torch takes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from . import version_line
from ._io import refuse_existing
from .errors import STARTUP_INTERRUPTED, CnnlabError, ConfigError


class Parser(argparse.ArgumentParser):
    """Reports usage errors as one line and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_debug(parser: argparse.ArgumentParser, default=argparse.SUPPRESS) -> None:
    parser.add_argument("--debug", action="store_true", default=default, help="show tracebacks on errors")


def top_parser() -> tuple[Parser, argparse._SubParsersAction]:
    """The `cnnlab` parser with its global options, and the action its commands are added to."""
    description = "Classic CNNs as switchable, tested components. Run 'cnnlab COMMAND --help' for details."
    parser = Parser(prog="cnnlab", description=description)
    parser.add_argument("--version", action="version", version=version_line())
    add_debug(parser, default=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser, required=True)
    return parser, commands


def parse_and_run(build: Callable[[], argparse.ArgumentParser], argv: list[str], handlers: dict[str, Callable]) -> int:
    """Parse `argv` with the parser `build` returns and run its command's handler; returns the exit status: 0 done,
    2 bad input, 3 training diverged, 4 a file could not be written (a full disk), 130 interrupted (Ctrl-C); an
    unexpected error (a bug) raises, Python's exit status 1. Errors are one line on stderr, the traceback only with
    --debug."""
    try:
        args = build().parse_args(argv)
    except KeyboardInterrupt:
        if "--debug" in argv:
            raise
        print(f"cnnlab: {STARTUP_INTERRUPTED}", file=sys.stderr)
        return 130
    command = f"{args.command} {args.action}" if args.command in ("data", "study") else args.command
    try:
        return handlers[args.command](args)
    except CnnlabError as exc:
        if args.debug:
            raise
        print(f"cnnlab {command}: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt as exc:  # Ctrl-C: one line (a training run says how to continue it), no traceback
        if args.debug:
            raise
        print(f"cnnlab {command}: {str(exc) or 'interrupted; run the command again'}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cnnlab models | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


# ----- cnnlab map


def _max_dets(text: str) -> tuple[int, int, int]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive integers such as 1,10,100, got {text!r}")
    return values


def add_map_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "map",
        help="COCO mAP of detections, identical to pycocotools",
        description=(
            "Evaluate COCO-format detections against COCO ground truth and print pycocotools' 12-line summary "
            "(AP @ IoU 0.50:0.95, AP50, AP75, AP by size, AR @ 1, 10, 100 detections, AR by size). The numbers "
            "equal pycocotools' COCOeval(iouType='bbox'), quirks included. Example: cnnlab map "
            "instances_val2017.json detections.json --per-class --plot pr.png"
        ),
    )
    p.add_argument("ground_truth", metavar="GT.json", help="COCO annotations: images, categories, annotations")
    p.add_argument(
        "detections", metavar="DETS.json", help="COCO results: a list of {image_id, category_id, bbox, score}"
    )
    p.add_argument("--json", action="store_true", help="print the 12 stats (and --per-class numbers) as JSON")
    p.add_argument("--per-class", action="store_true", help="also print AP, AP50 and AP75 of each category")
    p.add_argument("--plot", metavar="PR.png", help="save the category-averaged precision-recall curves")
    p.add_argument(
        "--max-dets", type=_max_dets, default=(1, 10, 100), metavar="A,B,C", help="detection limits (default 1,10,100)"
    )
    p.add_argument(
        "--fix-summary-max-dets",
        action="store_true",
        help="AP uses the largest --max-dets (pycocotools reads 100 whatever the limits)",
    )
    p.add_argument(
        "--fix-zero-id",
        action="store_true",
        help="let annotations with id 0 be matched (pycocotools counts such matches as false positives)",
    )
    add_debug(p)


def cmd_map(args: argparse.Namespace) -> int:
    from .metrics import coco_evaluate, format_coco
    from .metrics.plot import plot_pr_curves

    if args.plot:
        refuse_existing([args.plot], error=ConfigError, flag="--plot")
    result = coco_evaluate(
        args.ground_truth,
        args.detections,
        max_dets=args.max_dets,
        per_class=args.per_class,
        fix_summary_max_dets=args.fix_summary_max_dets,
        fix_zero_id=args.fix_zero_id,
    )
    if args.plot:
        plot_pr_curves(result, args.plot)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_coco(result, per_class=args.per_class))
    return 0


# ----- the commands that need no torch, run without the full command line


TORCH_FREE = {"map": (add_map_parser, cmd_map)}


def main_torch_free(argv: Sequence[str]) -> int:
    """Run `argv`, whose first word names a command of TORCH_FREE, with exactly what `cnnlab.cli.main` would do and
    print (the same parser, handler and errors), but without importing torch."""
    argv = list(argv)
    add, run = TORCH_FREE[argv[0]]

    def build() -> argparse.ArgumentParser:
        parser, commands = top_parser()
        add(commands)
        return parser

    return parse_and_run(build, argv, {argv[0]: run})
