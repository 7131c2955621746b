"""The `cnnlab` command: parses arguments and dispatches to the library. No logic of its own lives here."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import torch

from . import __version__
from .errors import CnnlabError, ConfigError, unknown_name
from .layers import ACT_NAMES, BLOCKS, NORM_NAMES, create_block
from .models import create, format_summary, list_models, model_doc, model_kwargs, summarize
from .scratch.activations import ACT_NAMES as SCRATCH_ACT_NAMES
from .scratch.explain import explain_backprop, explain_defaults, format_backprop

BLOCK_INPUT = (256, 56, 56)  # the note's bottleneck example


class _Parser(argparse.ArgumentParser):
    """Reports usage errors as one line and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _shape(text: str) -> tuple[int, int, int]:
    try:
        c, h, w = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected C,H,W such as 3,32,32, got {text!r}") from None
    if min(c, h, w) < 1:
        raise argparse.ArgumentTypeError(f"C, H and W must be positive, got {text!r}")
    return c, h, w


def _keyword(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE such as residual=none, got {text!r}")
    try:
        return key, json.loads(value)  # numbers, true/false, null, [lists]
    except json.JSONDecodeError:
        return key, value  # anything else is a string


def _add_debug(parser: argparse.ArgumentParser, default=argparse.SUPPRESS) -> None:
    parser.add_argument("--debug", action="store_true", default=default, help="show tracebacks on errors")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cnnlab",
        description="Classic CNNs as switchable, tested components. Run 'cnnlab COMMAND --help' for details.",
    )
    parser.add_argument("--version", action="version", version=f"cnnlab {__version__} (torch {torch.__version__})")
    _add_debug(parser, default=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, required=True)

    p = commands.add_parser("models", help="list the registered models", description="List the model zoo.")
    p.add_argument("pattern", nargs="?", help="shell pattern such as 'resnet*'")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_debug(p)

    p = commands.add_parser(
        "summary",
        help="per-layer shapes, parameters and MACs of models or blocks",
        description=(
            "Print each layer's output shape, parameters and multiply-accumulates (conv and FC), then totals. "
            f"NAME is a model ('cnnlab models') or a block ({', '.join(BLOCKS)}); several names are compared. "
            "Example, the note's bottleneck arithmetic: "
            "cnnlab summary bottleneck basic_block --input 256,56,56 --norm none --no-bias"
        ),
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="model or block name")
    p.add_argument(
        "--input",
        type=_shape,
        metavar="C,H,W",
        help="input shape; sets the model's in_channels (and input_size where it has one). Default: the model's "
        "own, or 256,56,56 for a block",
    )
    p.add_argument("--num-classes", type=int, metavar="N", help="number of classes (models only)")
    p.add_argument("--act", metavar="ACT", help=f"activation everywhere: {', '.join(ACT_NAMES)} ('leaky_relu:0.1')")
    p.add_argument("--norm", metavar="NORM", help=f"normalization everywhere: {', '.join(NORM_NAMES)} ('group:8')")
    p.add_argument("--bias", action=argparse.BooleanOptionalAction, help="force conv biases on or off (blocks)")
    p.add_argument(
        "--kw",
        type=_keyword,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other keyword argument of the model or block, e.g. residual=none, small_input=true",
    )
    p.add_argument("--depth", type=int, metavar="D", help="group layers into the modules D levels deep")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    _add_debug(p)

    p = commands.add_parser(
        "explain", help="worked examples from the note, computed", description="Worked examples, with numbers."
    )
    _add_debug(p)
    topics = p.add_subparsers(dest="topic", metavar="TOPIC", parser_class=_Parser, required=True)
    q = topics.add_parser(
        "backprop",
        help="the chain rule through one neuron, factor by factor, beside autograd",
        description=(
            "For the neuron z = w1·x1 + w2·x2 + b, a = f(z) and the loss l = (a − target)², print each factor of "
            "∂l/∂w1 = ∂l/∂a · f′(z) · x1 with numbers, and PyTorch autograd's value beside it. "
            "Example: cnnlab explain backprop --act relu --b -1 (a dead ReLU: f′(z) = 0)"
        ),
    )
    meaning = {"x1": "input", "x2": "input", "w1": "weight", "w2": "weight", "b": "bias", "target": "desired a"}
    for name, default in explain_defaults().items():
        q.add_argument(f"--{name}", type=float, default=default, metavar="V", help=f"{meaning[name]} ({default:g})")
    q.add_argument(
        "--act",
        nargs="+",
        default=["sigmoid", "relu"],
        metavar="ACT",
        help=f"one or more activations f: {', '.join(n for n in SCRATCH_ACT_NAMES if n != 'none')}, "
        "leaky_relu:SLOPE (default: sigmoid relu)",
    )
    q.add_argument("--json", action="store_true", help="print JSON instead of text")
    _add_debug(q)
    return parser


def _cmd_models(args: argparse.Namespace) -> int:
    names = list_models(args.pattern)
    if not names:
        raise ConfigError(f"no model matches {args.pattern!r}; run 'cnnlab models' to list them all")
    rows = []
    for name in names:
        with torch.device("meta"):  # shapes only: counts parameters without allocating them
            model = create(name)
        rows.append(
            {
                "name": name,
                "params": sum(p.numel() for p in model.parameters()),
                "input": list(model.input_size),
                "description": model_doc(name),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        size = "×".join(str(s) for s in r["input"])
        print(f"{r['name']:<{width}}  {r['params']:>12,}  {size:<9}  {r['description']}")
    return 0


def _build(name: str, args: argparse.Namespace):
    """Build model or block `name` from the summary flags; returns (module, input shape)."""
    if name not in BLOCKS and name not in list_models():
        raise unknown_name("model or block", name, [*list_models(), *BLOCKS])
    kwargs = dict(args.kw)
    for key in ("act", "norm", "bias"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    if name in BLOCKS:
        if args.num_classes is not None:
            raise ConfigError(f"--num-classes applies to models, not to block {name!r}")
        shape = args.input or BLOCK_INPUT
        return create_block(name, shape[0], **kwargs), shape
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.input is not None:
        kwargs["in_channels"] = args.input[0]
        if "input_size" in model_kwargs(name):
            kwargs["input_size"] = args.input[1:]
    model = create(name, **kwargs)
    return model, args.input or model.input_size


def _cmd_summary(args: argparse.Namespace) -> int:
    summaries = []
    for name in args.names:
        with torch.device("meta"):  # shapes only: nothing is allocated or computed, so VGG-19 takes no time
            module, shape = _build(name, args)
        summaries.append(summarize(module, shape, name=name, depth=args.depth))
    if args.json:
        data = [s.to_dict() for s in summaries]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2))
        return 0
    print("\n\n".join(format_summary(s) for s in summaries))
    base = summaries[0]
    for other in summaries[1:]:
        print(
            f"\n{other.name} holds {other.params:,} parameters, {other.params / max(base.params, 1):.2f}× the "
            f"{base.params:,} of {base.name}, and needs {other.macs / max(base.macs, 1):.2f}× its MACs"
        )
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    values = {name: getattr(args, name) for name in explain_defaults()}
    explanations = [explain_backprop(act=act, **values) for act in args.act]
    if args.json:
        print(json.dumps([e.to_dict() for e in explanations], indent=2))
    else:
        print("\n\n".join(format_backprop(e) for e in explanations))
    return 0


_COMMANDS = {"models": _cmd_models, "summary": _cmd_summary, "explain": _cmd_explain}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0, or 2 for bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except CnnlabError as exc:
        if args.debug:
            raise
        print(f"cnnlab {args.command}: error: {exc}", file=sys.stderr)
        return 2
