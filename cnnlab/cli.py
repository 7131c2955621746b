"""The `cnnlab` command: parses arguments and dispatches to the library. No logic of its own lives here."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import textwrap
import typing
from collections.abc import Sequence
from pathlib import Path

import torch

from . import data as datasets
from ._io import refuse_existing
from .cli_core import Parser, add_debug, add_map_parser, cmd_map, parse_and_run, top_parser
from .engine.config import TrainConfig, from_mapping, read_config_file, validate
from .engine.recipes import as_flags, format_recipes, recipe_for, recipes_of
from .errors import ConfigError, unknown_name
from .layers import ACT_NAMES, BLOCKS, NORM_NAMES, create_block
from .models import create, format_summary, list_models, model_doc, model_kwargs, summarize
from .scratch.activations import ACT_NAMES as SCRATCH_ACT_NAMES
from .scratch.explain import explain_backprop, explain_defaults, format_backprop

BLOCK_INPUT = (256, 56, 56)  # a 256-channel 56×56 map: the classic bottleneck example (ResNet-50 conv2_x)


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


def build_parser() -> argparse.ArgumentParser:
    parser, commands = top_parser()

    p = commands.add_parser(
        "models",
        help="list the registered models",
        description="List the model zoo; with a NAME or pattern, also the default training recipes of those models.",
    )
    p.add_argument("pattern", nargs="?", metavar="NAME", help="a model name or a shell pattern such as 'resnet*'")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_debug(p)

    p = commands.add_parser(
        "summary",
        help="per-layer shapes, parameters and MACs of models or blocks",
        description=(
            "Print each layer's output shape, parameters and multiply-accumulates (conv and FC), then totals. "
            f"NAME is a model ('cnnlab models') or a block ({', '.join(BLOCKS)}); several names are compared. "
            "Example, a bottleneck against a basic block: "
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
    add_debug(p)

    p = commands.add_parser(
        "train",
        help="train a model; writes a run directory",
        description=textwrap.fill(
            "Train MODEL on --data and write a run directory (config.json, run.json, history.jsonl/csv, "
            "metrics.json, checkpoints/, model.safetensors). Precedence: defaults < the (model, data) pair's "
            "default recipe < --config FILE < flags. Scale out with: torchrun --nproc-per-node 2 -m cnnlab train ...",
            width=79,
        ),
        epilog="default recipes (any flag you give wins):\n" + format_recipes().replace("%", "%%"),
        formatter_class=argparse.RawDescriptionHelpFormatter,  # one recipe per line
    )
    p.add_argument("model", nargs="?", default=argparse.SUPPRESS, metavar="MODEL", help="a name from 'cnnlab models'")
    p.add_argument("--config", type=Path, metavar="FILE", help="a TOML or YAML file of TrainConfig keys")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run exactly from its last checkpoint")
    _add_config_flags(p)
    add_debug(p)

    p = commands.add_parser(
        "eval",
        help="evaluate a finished run on a data split",
        description="Loss and accuracy of RUN_DIR's model on its test split, or on --data/--split; for a detection "
        "run, pycocotools' 12 COCO numbers (AP @ IoU 0.50:0.95, AP50, AP75, ..., AR by size).",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    _add_split_flags(p)
    p.add_argument("--per-class", action="store_true", help="detection: also AP, AP50 and AP75 of each class")
    _add_flip_test(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    add_debug(p)

    p = commands.add_parser(
        "predict",
        help="classify image files, or find and draw boxes, with a finished run's model",
        description="Read each image with Pillow, convert it to the model's channels and size, normalize it with "
        "the training statistics and print the most likely classes with their probabilities. A detection run "
        "prints each image's boxes (the image must have the training size) and draws them with class and score "
        "into --out DIR; with --coco-json it writes COCO results for a data split instead. Example: cnnlab "
        "predict RUN --data shapes --data-kw task=detection --coco-json dets.json --coco-gt gt.json",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("images", nargs="*", type=Path, metavar="IMAGE")
    p.add_argument("--top-k", type=int, default=3, metavar="K", help="classes to show per image (default 3)")
    p.add_argument("--out", type=Path, metavar="DIR", help="detection: draw the boxes into DIR/<image name>.png")
    p.add_argument(
        "--min-score", type=float, default=0.3, metavar="S", help="detection: show boxes scoring at least S (0.3)"
    )
    p.add_argument(
        "--coco-json",
        type=Path,
        metavar="DETS.json",
        help="detection: write COCO results {image_id, category_id, bbox, score} of every detection of a split",
    )
    p.add_argument("--coco-gt", type=Path, metavar="GT.json", help="with --coco-json: also write the split's COCO "
                   "ground truth, to score with 'cnnlab map GT.json DETS.json'")  # fmt: skip
    _add_flip_test(p)
    _add_split_flags(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    add_debug(p)

    p = commands.add_parser(
        "results",
        help="a table of finished runs",
        description="Model, data, engine, epochs, test accuracy and loss and training time of each run directory.",
    )
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_debug(p)

    p = commands.add_parser(
        "plot",
        help="overlay the learning curves of runs",
        description="Overlay the per-epoch curves of one or more runs in one picture, each run labelled by the "
        "options that differ between their configs (e.g. act=sigmoid, act=relu). Every run also draws its own "
        "pictures (curves.png, confusion.png …) into its folder at its end.",
    )
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("--metric", metavar="M", help="one history column to draw, e.g. val_accuracy, train_loss, lr "
                   "(default: validation loss and accuracy, or mAP)")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="the picture to write (.png, .pdf, "
                   ".svg); an existing file is refused")  # fmt: skip
    add_debug(p)

    add_map_parser(commands)

    p = commands.add_parser(
        "explain", help="worked examples (backpropagation), computed", description="Worked examples, with numbers."
    )
    add_debug(p)
    topics = p.add_subparsers(dest="topic", metavar="TOPIC", parser_class=Parser, required=True)
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
    add_debug(q)
    _add_data_parser(commands)
    _add_study_parser(commands)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _natural_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 0, got {text!r}")
    return value


def _add_study_parser(commands) -> None:
    p = commands.add_parser(
        "study",
        help="claims about classic CNNs as controlled experiments with verdicts, and their HTML report",
        description="Studies: each claim about classic CNNs as a seeded, multi-arm experiment with a decision "
        "rule fixed in code, a figure, a table and a verdict. Example: cnnlab study run all --jobs 2 --out "
        "runs/studies && cnnlab study report runs/studies",
    )
    add_debug(p)
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser, required=True)
    q = actions.add_parser("list", help="list the studies", description="List the studies with their claims.")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_debug(q)
    q = actions.add_parser("show", help="a study's claim, design and rule", description="Show a study's claim, "
                           "question, design, arms, budgets per profile and decision rule.")  # fmt: skip
    q.add_argument("study_id", metavar="ID", help="a study id ('cnnlab study list')")
    add_debug(q)
    q = actions.add_parser(
        "run",
        help="run studies (cached and resumable) and print their verdicts",
        description="Run every (arm, seed) of the named studies that is not cached under --out yet, then print "
        "each verdict as it lands. A killed run continues where it stopped when run again; a changed design is "
        "measured again. Run one (study, arm, seed) alone with --arm and --first-seed/--seeds 1, e.g. from a "
        "scheduler's job array, into a shared --out. Example: cnnlab study run overfitting-cures descent --jobs 2",
    )
    q.add_argument("study_ids", nargs="*", metavar="ID", help="study ids, or 'all' (default: all)")
    q.add_argument("--profile", choices=("quick", "full"), default="quick",
                   help="quick: embedded data, ≥ 3 seeds, minutes on a laptop; full: ≥ 5 seeds, longer budgets, "
                   "MNIST with --data-dir, the GPU with --device auto (default: quick)")  # fmt: skip
    q.add_argument("--seeds", type=_positive_int, metavar="N", help="number of seeds (default: the study's)")
    q.add_argument("--first-seed", type=_natural_int, default=0, metavar="S", help="seeds are S, S+1, … (default 0)")
    q.add_argument("--arm", action="append", metavar="ARM", help="run only this arm (repeatable)")
    q.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                   help="worker processes, at most the cores; each uses cores/N torch threads (default 1)")  # fmt: skip
    q.add_argument("--out", default="runs/studies", metavar="DIR", help="result cache (default runs/studies)")
    q.add_argument("--device", default="cpu", help="cpu, cuda, or auto (default cpu)")
    q.add_argument("--data-dir", metavar="DIR", help="folder with MNIST's t10k files, for the full profile")
    q.add_argument("--report", metavar="HTML", help="also write the report of --out to this file")
    q.add_argument("--reference", metavar="DIR", help="committed reference results to lead the report "
                   "(the repository's: results/reference)")  # fmt: skip
    add_debug(q)
    q = actions.add_parser(
        "report",
        help="render the cached results into one self-contained HTML page",
        description="Render every study result cached in DIR (one section per study and profile) into one HTML "
        "file with figures inline: it opens offline in any browser. Example: cnnlab study report runs/studies",
    )
    q.add_argument("out_dir", metavar="DIR", help="a directory written by 'cnnlab study run --out'")
    q.add_argument("--out", metavar="HTML", help="the report file (default DIR/report.html)")
    q.add_argument("--reference", metavar="DIR", help="committed reference results to lead the report "
                   "(the repository's: results/reference)")  # fmt: skip
    add_debug(q)


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _flag_type(kind: object):
    """An argparse `type` for a TrainConfig annotation."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is list:
        item = typing.get_args(kind)[0]
        return lambda text: [item(v) for v in text.split(",") if v]
    if args and set(args) == {int, str}:  # batch_size: an integer or 'full'
        return lambda text: int(text) if text.lstrip("-").isdigit() else text
    base = args[0] if args else kind
    return _parse_bool if base is bool else base


def _add_split_flags(parser: argparse.ArgumentParser) -> None:
    """The data a finished run is evaluated on: its own test split unless told otherwise."""
    parser.add_argument("--data", metavar="NAME", help="dataset (default: the one the run trained on)")
    parser.add_argument("--data-dir", metavar="DIR", help="where the dataset's files live")
    parser.add_argument(
        "--data-kw", type=_keyword, action="append", default=[], dest="data_kwargs", metavar="KEY=VALUE",
        help="a data keyword, e.g. seed=7 (repeatable); added to the run's own when --data is the run's data",
    )  # fmt: skip
    parser.add_argument(
        "--split", metavar="SPLIT", help="split, e.g. test or 'test[:1000]' (default: the run's test split)"
    )


def _add_flip_test(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--flip-test", action="store_true",
        help="detection: average each image's maps with its mirror image's (two forward passes; steadier boxes)",
    )  # fmt: skip


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; only the flags given on the command line override the config."""
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if f.name == "model":
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        help_text = f"{f.metadata['help']} (default: {default})".replace("%", "%%")  # argparse formats with %
        flag = "--" + f.name.replace("_", "-")
        if f.name in ("model_kwargs", "data_kwargs"):
            what = "model" if f.name == "model_kwargs" else "data set"
            parser.add_argument(
                "--kw" if f.name == "model_kwargs" else "--data-kw", type=_keyword, action="append", dest=f.name,
                default=argparse.SUPPRESS, metavar="KEY=VALUE",
                help=f"another {what} keyword argument, e.g. "
                + ("small_input=true" if f.name == "model_kwargs" else "task=multilabel") + " (repeatable)",
            )  # fmt: skip
        elif hints[f.name] is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(flag, type=_flag_type(hints[f.name]), default=argparse.SUPPRESS, help=help_text)


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """defaults < the (model, data) pair's recipe < --config file < flags."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    flags = {k: v for k, v in vars(args).items() if k in names}
    for key in ("model_kwargs", "data_kwargs"):
        if key in flags:
            flags[key] = dict(flags[key])
    given = read_config_file(args.config) if args.config is not None else {}
    chosen = from_mapping(flags, base=from_mapping(given, source=str(args.config)), source="command line")
    recipe = recipe_for(chosen.model, chosen.data)
    for key in ("model_kwargs", "data_kwargs"):  # the user's keywords add to the recipe's
        if key in recipe:
            given = {**given, key: {**recipe[key], **given.get(key, {})}}
            if key in flags:
                flags[key] = {**recipe[key], **flags[key]}
    config = from_mapping(recipe, source=f"the recipe of {chosen.model} on {chosen.data}")
    config = from_mapping(given, base=config, source=str(args.config))
    return validate(from_mapping(flags, base=config, source="command line"))


def _add_load_options(p: argparse.ArgumentParser) -> None:
    """The flags `data show` and `data export` share: which data set, which split, where, which options."""
    p.add_argument("name", metavar="NAME", help="data set ('cnnlab data list')")
    p.add_argument("--split", default="train", help="split to read (default: train)")
    p.add_argument("--data-dir", metavar="DIR", help="folder of the files (folder, coco, and the real data sets)")
    p.add_argument("--root", dest="data_dir", help=argparse.SUPPRESS)  # the former name, still accepted
    p.add_argument("--download", action="store_true", help="fetch missing files (mnist, fashion_mnist, cifar)")
    p.add_argument("--task", help="shapes: classification, multilabel or detection")
    p.add_argument(
        "--data-kw",
        type=_keyword,
        action="append",
        default=[],
        dest="data_kwargs",
        metavar="KEY=VALUE",
        help="any other option of the data set, e.g. difficulty=0.8, seed=3, n_train=1000, size=64 (repeatable)",
    )
    # the former name, still accepted; `train` keeps --kw for the model's keywords
    p.add_argument("--kw", type=_keyword, action="append", dest="data_kwargs", help=argparse.SUPPRESS)
    add_debug(p)


def _add_data_parser(commands) -> None:
    p = commands.add_parser(
        "data",
        help="list, show and export data sets",
        description="Data sets: the embedded digits and shapes (no files needed), MNIST, Fashion-MNIST, CIFAR, "
        "image folders and COCO detection files.",
    )
    add_debug(p)
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser, required=True)
    q = actions.add_parser("list", help="list the data sets", description="List the data sets cnnlab can load.")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_debug(q)
    q = actions.add_parser(
        "show",
        help="describe a data set and draw a grid of samples",
        description="Print a data set's size, classes and statistics, and save a PNG grid of its first samples with "
        "their labels (or boxes). Example: cnnlab data show shapes --task detection --out boxes.png",
    )
    _add_load_options(q)
    q.add_argument("--n", type=int, default=16, metavar="N", help="samples in the grid (default 16)")
    q.add_argument(
        "--out", default=None, metavar="PNG", help="a new PNG file for the grid (default NAME.png, or NAME-2.png, ...)"
    )
    q = actions.add_parser(
        "export",
        help="write a data set as image files (a class folder tree, or images + COCO JSON)",
        description="Write a data set into a new folder, atomically: detection sets as images/ plus COCO "
        "annotations.json, single-label sets as one sub-folder per class. "
        "Example: cnnlab data export shapes --task detection --out shapes-coco",
    )
    _add_load_options(q)
    q.add_argument("--out", required=True, metavar="DIR", help="the new folder to write")


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
                "recipes": recipes_of(name),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        size = "×".join(str(s) for s in r["input"])
        print(f"{r['name']:<{width}}  {r['params']:>12,}  {size:<9}  {r['description']}")
    if args.pattern is not None:  # a chosen model: how `cnnlab train` trains it when given only --data
        for r in rows:
            for data, values in r["recipes"].items():
                print(f"recipe of {r['name']} on {data} (any flag you give wins): {as_flags(values)}")
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


def _cmd_train(args: argparse.Namespace) -> int:
    from .engine.trainer import train

    if args.resume is not None:
        given = [k for k in vars(args) if k not in ("command", "debug", "resume", "config")]
        if given or args.config is not None:
            raise ConfigError("--resume continues a run exactly as it was configured; drop the other options")
        result = train(resume=args.resume)
    else:
        config = _train_config(args)
        if "model" not in vars(args) and args.config is None:
            raise ConfigError("name a model to train, e.g. 'cnnlab train lenet5 --data digits'")
        result = train(config)
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 reports
        accuracy = "" if result.test_accuracy != result.test_accuracy else f"test accuracy {result.test_accuracy:.4f}  "
        print(
            f"{accuracy}test loss {result.test_loss:.4f}  "
            f"({result.epochs} epochs, {result.steps} steps, {result.seconds:.1f} s)  run: {result.run_dir}"
        )
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .engine.inference import evaluate_run

    metrics = evaluate_run(args.run_dir, data=args.data, split=args.split, data_dir=args.data_dir,
                           data_kwargs=dict(args.data_kwargs), per_class=args.per_class,
                           flip_test=args.flip_test)  # fmt: skip
    if not isinstance(metrics, dict):  # a detection run's COCO evaluation
        from .engine.detection_inference import format_detection_evaluation

        text = format_detection_evaluation(metrics, per_class=args.per_class)
        print(json.dumps(metrics.to_dict(), indent=2) if args.json else text)
    elif args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(f"{metrics['data']}: accuracy {metrics['accuracy']:.4f}  loss {metrics['loss']:.4f}  "
              f"({metrics['samples']} samples)")  # fmt: skip
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .engine.inference import Prediction, predict_images

    split_flags = {"data": args.data, "split": args.split, "data_dir": args.data_dir}
    if args.coco_json is not None:
        from .engine.detection_inference import write_coco_results

        if args.images or args.out is not None:
            raise ConfigError("--coco-json writes the detections of a data split; drop the IMAGE files and --out")
        data, images, count = write_coco_results(args.run_dir, args.coco_json, ground_truth=args.coco_gt,
                                                 data_kwargs=dict(args.data_kwargs), flip_test=args.flip_test,
                                                 **split_flags)  # fmt: skip
        gt = f" and its ground truth to {args.coco_gt}" if args.coco_gt is not None else ""
        print(f"wrote {count:,} detections in {images:,} images of {data} to {args.coco_json}{gt}")
        return 0
    given = [f"--{k.replace('_', '-')}" for k, v in split_flags.items() if v is not None]
    if args.data_kwargs or args.coco_gt is not None:
        given.append("--data-kw" if args.data_kwargs else "--coco-gt")
    if given:
        raise ConfigError(f"{', '.join(given)} choose the data of --coco-json; IMAGE files need none of them")
    if not args.images:
        raise ConfigError("name IMAGE files to predict, or write a split's detections with --coco-json FILE")
    predictions = predict_images(args.run_dir, args.images, top_k=args.top_k, out=args.out, min_score=args.min_score,
                                 flip_test=args.flip_test)  # fmt: skip
    if predictions and not isinstance(predictions[0], Prediction):  # a detection run's boxes
        from .engine.detection_inference import format_image_detections

        if args.json:
            print(json.dumps([dataclasses.asdict(p) for p in predictions], indent=2))
        else:
            print(format_image_detections(predictions))
    elif args.json:
        print(json.dumps([{"path": p.path, "top": [list(t) for t in p.top]} for p in predictions], indent=2))
    else:
        for p in predictions:
            print(p.path + "  " + "  ".join(f"{name} {prob:.3f}" for name, prob in p.top))
    return 0


def _cmd_results(args: argparse.Namespace) -> int:
    from .engine.inference import format_run_summaries, run_summaries

    rows = run_summaries(args.run_dirs)
    print(json.dumps(rows, indent=2) if args.json else format_run_summaries(rows))
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from .engine.pictures import plot_runs

    print(f"wrote {plot_runs(args.run_dirs, args.out, args.metric)}")
    return 0


def _load(args: argparse.Namespace):
    options = dict(args.data_kwargs)
    if args.task is not None:
        options["task"] = args.task
    return datasets.load_dataset(args.name, args.split, root=args.data_dir, download=args.download, **options)


def _cmd_data(args: argparse.Namespace) -> int:
    if args.action == "list":
        infos = [datasets.dataset_info(name) for name in datasets.list_datasets()]
        if args.json:
            print(json.dumps([dataclasses.asdict(info) for info in infos], indent=2))
        else:
            print(datasets.format_datasets(infos))
        return 0
    if args.action == "show":  # the grid goes to a new file: --out, or the first free NAME.png, NAME-2.png, ...
        if args.out:
            refuse_existing([args.out], error=ConfigError, flag="--out")
        grid = Path(args.out) if args.out else _free_name(Path(f"{args.name}.png"))
    dataset = _load(args)
    if args.action == "show":
        print(datasets.describe(dataset))
        if isinstance(dataset, datasets.TensorDataset) and dataset.images.shape[1] not in (1, 3):
            # sequences (adding) or points: nothing to draw as pictures
            return 0
        out = datasets.save_grid(dataset, grid, n=args.n)
        print(f"grid of {min(args.n, len(dataset))} samples: {out}")
        return 0
    out = datasets.export_dataset(dataset, args.out)
    print(f"wrote {len(dataset):,} images of {dataset.name} to {out}")
    return 0


def _free_name(path: Path) -> Path:
    """`path`, or the first of path-2, path-3, ... (same suffix) that does not exist yet."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _cmd_explain(args: argparse.Namespace) -> int:
    values = {name: getattr(args, name) for name in explain_defaults()}
    explanations = [explain_backprop(act=act, **values) for act in args.act]
    if args.json:
        print(json.dumps([e.to_dict() for e in explanations], indent=2))
    else:
        print("\n\n".join(format_backprop(e) for e in explanations))
    return 0


def _reference(folder: str | None) -> list:
    """The committed reference results of --reference DIR (which must exist), or none."""
    from .studies import load_reference

    if folder is None:
        return []
    if not Path(folder).is_dir():
        raise ConfigError(f"--reference {folder} is not a directory of committed study results")
    return load_reference(folder)


def _cmd_study(args: argparse.Namespace) -> int:
    from . import studies
    from .studies.report import format_studies, format_study, format_verdicts, write_report

    if args.action == "list":
        ids = studies.list_studies()
        if args.json:
            rows = [{"id": i, "title": studies.get_study(i).title, "claim": studies.get_study(i).claim} for i in ids]
            print(json.dumps(rows, indent=2))
        else:
            print(format_studies([studies.get_study(i) for i in ids]))
        return 0
    if args.action == "show":
        print(format_study(studies.get_study(args.study_id)))
        return 0
    if args.action == "run":
        from tqdm import tqdm  # tqdm.write keeps the progress bar intact below the printed verdicts

        finished = studies.run_studies(
            args.study_ids, profile=args.profile, seeds=args.seeds, first_seed=args.first_seed, arms=args.arm,
            jobs=args.jobs, out=args.out, device=args.device, data_dir=args.data_dir, progress=sys.stderr.isatty(),
            on_result=lambda r: tqdm.write(f"{r.study.id}: {r.verdict.kind} — {r.verdict.sentence}"),
            log=lambda note: tqdm.write(f"cnnlab study run: {note}", file=sys.stderr),
        )  # fmt: skip
        if finished:
            print("\n" + format_verdicts(finished))
        if args.report:
            path = write_report(studies.load_results(args.out), args.report, _reference(args.reference))
            print(f"report: {path}")
        return 0
    path = write_report(studies.load_results(args.out_dir), args.out or Path(args.out_dir) / "report.html",
                        _reference(args.reference))  # fmt: skip
    print(f"report: {path}")
    return 0


_COMMANDS = {
    "models": _cmd_models,
    "summary": _cmd_summary,
    "data": _cmd_data,
    "train": _cmd_train,
    "eval": _cmd_eval,
    "predict": _cmd_predict,
    "results": _cmd_results,
    "plot": _cmd_plot,
    "map": cmd_map,
    "explain": _cmd_explain,
    "study": _cmd_study,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on `argv` (default: the process's arguments); returns the exit status (`parse_and_run`)."""
    return parse_and_run(build_parser, list(sys.argv[1:] if argv is None else argv), _COMMANDS)
