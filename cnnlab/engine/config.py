"""The training configuration: one dataclass that flags and config files (TOML, or YAML read safely) map onto."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError, suggest


def _f(default: Any, help: str) -> Any:
    """A config field with its one-line reason, which `--help` and the docs show."""
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Everything that decides a training run. Each field has a default and a reason."""

    # what to train on
    model: str = _f("lenet5", "a name from `cnnlab models`")
    data: str = _f("digits", "a name from `cnnlab data list`; embedded sets need no files")
    data_dir: str | None = _f(None, "where the files of mnist, cifar10, folder … live")
    data_kwargs: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "options of the data set, e.g. {task = 'multilabel', difficulty = 0.8}"}
    )
    train_split: str = _f("train", "split to train on; slices like 'test[:8000]' take part of one")
    test_split: str = _f("test", "split for the final test metrics, e.g. 'test[8000:]'")
    val_fraction: float = _f(0.1, "share of the training split held out to pick the best epoch and stop early")
    # the model's switches (None keeps the model's own default)
    act: str | None = _f(None, "activation everywhere, e.g. 'relu', 'sigmoid', 'leaky_relu:0.1'")
    norm: str | None = _f(None, "normalization everywhere: 'batch', 'layer', 'instance', 'group', 'weight', 'none'")
    dropout: float | None = _f(None, "dropout probability of the classifier")
    init: str = _f(
        "default",
        "weight initialization: 'default' (PyTorch's), 'xavier', 'xavier_normal', 'he', 'he_uniform', 'he_fan_out', "
        "'orthogonal'; ':GAIN' multiplies it ('he:2.0' explodes, 'xavier:0.5' vanishes, on purpose)",
    )
    model_kwargs: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "any other model keyword, e.g. {small_input = true}"}
    )
    # the descent
    epochs: int = _f(10, "passes over the training data")
    batch_size: int | str = _f(64, "global batch: N (mini-batch), 1 (stochastic) or 'full' (batch gradient descent)")
    optimizer: str = _f("adam", "'sgd', 'adam' or 'adamw' (Adam: a robust default; SGD+momentum for classic recipes)")
    lr: float = _f(1e-3, "base learning rate, per step, whatever the batch size")
    momentum: float = _f(0.9, "SGD momentum (0 for plain SGD)")
    nesterov: bool = _f(False, "Nesterov momentum (SGD)")
    weight_decay: float = _f(0.0, "coupled for sgd/adam (in the gradient), decoupled for adamw")
    schedule: str = _f("cos", "'constant', 'step', 'multistep', 'cos', 'warmup_cos', 'onecycle'")
    warmup: float = _f(0.0, "warmup_cos: epochs of linear warmup")
    min_lr: float = _f(0.0, "cos schedules: the final learning rate")
    step_size: float = _f(30.0, "step schedule: epochs between decays")
    milestones: list[float] = field(
        default_factory=lambda: [30.0, 60.0, 90.0], metadata={"help": "multistep: epochs of decays"}
    )
    gamma: float = _f(0.1, "step and multistep: decay factor")
    pretrain: str = _f(
        "",
        "'layerwise' or 'layerwise:EPOCHS': greedy unsupervised pretraining of an MLP's hidden layers, each an "
        "autoencoder of the one below, before supervised fine-tuning of the whole net",
    )
    # regularization
    l1: float = _f(0.0, "λ of an explicit L1 penalty Σ|w| on conv and FC weights")
    l2: float = _f(0.0, "λ of an explicit L2 penalty ½Σw² on conv and FC weights")
    clip_norm: float | None = _f(None, "rescale gradients whose global L2 norm exceeds this")
    clip_value: float | None = _f(None, "clamp every gradient element to [-v, v]")
    augment: str = _f("", "batched augmentations, e.g. 'crop:4,flip,cutout:8' (see `cnnlab data`)")
    label_smoothing: float = _f(0.0, "ce loss: ε of label smoothing")
    loss: str = _f("auto", "'ce' (softmax), 'bce' (per-class sigmoid), 'mse'; auto picks by the data")
    threshold: float = _f(0.5, "multi-label: a class is predicted when its sigmoid exceeds this")
    box_loss: str = _f("giou", "detection: the box loss, 'l1', 'iou', 'giou', 'diou' or 'ciou'")
    cls_loss: str = _f("focal", "detection: the class loss of the per-class sigmoid scores, 'focal' or 'bce'")
    # run control
    seed: int = _f(0, "seeds weights, data order, augmentation and dropout")
    device: str = _f("auto", "'auto' (cuda when present), 'cpu', 'cuda', 'cuda:1' …")
    amp: str = _f("off", "'off', 'bf16' or 'fp16' (CUDA); bf16 measured slower than fp32/TF32 for CIFAR-size nets")
    channels_last: str = _f("auto", "'auto' (on for conv nets: measured faster on CPU and GPU), 'on', 'off'")
    inplace: bool = _f(
        True,
        "run ReLUs and residual adds in place where autograd allows (resnet20 5–7% faster on CPU); off keeps "
        "every conv and norm output intact for your own forward hooks",
    )
    compile: bool = _f(False, "torch.compile the model (CUDA recommended; compiling takes a while)")
    early_stopping: int = _f(0, "stop after this many epochs without a better validation loss (0: never)")
    divergence_guard: bool = _f(
        True,
        "stop the run (exit status 3) in the step whose training loss passes 10,000× the run's first-step loss (or "
        "log K for K classes); off for studying divergence on purpose. NaN or infinity always stops it",
    )
    checkpoint_interval: float = _f(
        10.0,
        "seconds: checkpoint at an epoch's end when this long has passed since the last one, and always after the "
        "first and the last epoch (0: every epoch); sub-second epochs then do not spend their time writing files",
    )
    checkpoint_every: int = _f(0, "also checkpoint every N optimizer steps (0: at the end of epochs only)")
    out: str | None = _f(None, "run directory; default runs/<model>-<data>-<time>")
    progress: bool = _f(True, "progress bar (only when stderr is a terminal)")
    plots: bool = field(
        default_factory=lambda: os.environ.get("CNNLAB_PLOTS", "1") != "0",
        metadata={"help": "draw the run's pictures into its folder at its end: curves.png, and confusion.png and "
                  "mistakes.png (classification), pr_curves.png (multi-label, detection), predictions.png "
                  "(detection); the environment variable CNNLAB_PLOTS=0 makes --no-plots the default"},
    )  # fmt: skip
    tensorboard: bool = _f(False, "also write TensorBoard event files (needs the tensorboard package)")
    diagnose: bool = _f(
        False,
        "watch training through hooks (the model is unchanged): per-layer gradient and weight norms, update ratios, "
        "activation mean/std, dead ReLU and saturated sigmoid/tanh fractions; print warnings (vanishing/exploding "
        "gradients, dead ReLUs, saturation) with cures; write RUN_DIR/diagnostics/ (records.csv, findings.json, "
        "summary.txt, grad_heatmap.png, grad_depth.png, units.png)",
    )
    diagnose_every: int = _f(10, "with --diagnose, sample every N-th optimizer step (training about 2–5% slower)")
    engine: str = _f("torch", "'torch', or 'scratch' for the NumPy reference (lenet5 and mlp)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short hash of the configuration (stable across runs and machines)."""
        return config_digest(self.to_dict())


def config_digest(values: dict[str, Any]) -> str:
    """The short hash of a configuration's values: `TrainConfig.digest`, and that of a config.json as read back."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


def _types() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def _accepts(kind: Any, value: Any) -> bool:
    """Is `value` (from TOML/YAML/JSON) acceptable for the annotated `kind`?"""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(k, value) for k in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if kind is Any:
        return True
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        (item,) = typing.get_args(kind)
        return isinstance(value, list) and all(_accepts(item, v) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, kind)


def from_mapping(values: dict[str, Any], *, base: TrainConfig | None = None, source: str = "config") -> TrainConfig:
    """`base` (or the defaults) with `values` applied; unknown keys and wrongly typed values are ConfigErrors."""
    config = dataclasses.replace(base) if base is not None else TrainConfig()
    hints = _types()
    for key, value in values.items():
        key = key.replace("-", "_")
        if key not in hints:
            raise ConfigError(
                f"{source}: unknown key {key!r}; {suggest(key, hints)} (valid keys: {', '.join(field_names())})"
            )
        if isinstance(value, int) and not isinstance(value, bool) and hints[key] is float:
            value = float(value)
        if not _accepts(hints[key], value):
            raise ConfigError(f"{source}: {key} = {value!r} has the wrong type; expected {hints[key]}")
        setattr(config, key, value)
    return config


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML (.toml) or YAML (.yaml/.yml, with yaml.safe_load) file into a dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the config file as UTF-8") from None
    if path.suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    elif path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ConfigError(f"{path}: reading YAML needs PyYAML (pip install pyyaml), or use TOML") from None
        try:
            data = yaml.safe_load(text)  # never yaml.load: a config file must not construct objects
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    else:
        raise ConfigError(f"{path}: config files are .toml, .yaml or .yml")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a table of keys, got {type(data).__name__}")
    _check_size(data, path)
    return data


MAX_CONFIG_VALUES = 100_000  # a training config holds a few dozen values


def _check_size(data: dict, path: Path) -> None:
    """Refuse a config that expands to more than MAX_CONFIG_VALUES values: YAML aliases share one object, so a
    few hundred bytes of nested aliases stand for billions of values, which printing or comparing would build."""
    count, stack = 0, [data]
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            raise ConfigError(f"{path}: more than {MAX_CONFIG_VALUES:,} values once its aliases are expanded; "
                              "a training config needs a few dozen, so write the values out")  # fmt: skip
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


# Ranges of the numeric fields: (lowest, highest, whether each end is allowed). NaN and ±inf are never allowed.
_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "val_fraction": (0.0, 1.0, True, False),
    "dropout": (0.0, 1.0, True, False),
    "epochs": (1, math.inf, True, False),
    "lr": (0.0, math.inf, False, False),
    "momentum": (0.0, 1.0, True, False),
    "weight_decay": (0.0, math.inf, True, False),
    "warmup": (0.0, math.inf, True, False),
    "min_lr": (0.0, math.inf, True, False),
    "step_size": (0.0, math.inf, False, False),
    "gamma": (0.0, math.inf, False, False),
    "l1": (0.0, math.inf, True, False),
    "l2": (0.0, math.inf, True, False),
    "clip_norm": (0.0, math.inf, False, False),
    "clip_value": (0.0, math.inf, False, False),
    "label_smoothing": (0.0, 1.0, True, False),
    "threshold": (0.0, 1.0, False, False),
    "seed": (0, math.inf, True, False),
    "early_stopping": (0, math.inf, True, False),
    "checkpoint_interval": (0.0, math.inf, True, False),
    "checkpoint_every": (0, math.inf, True, False),
    "diagnose_every": (1, math.inf, True, False),
}


def validate(config: TrainConfig) -> TrainConfig:
    """Check every numeric field against its range (no NaN or infinity anywhere); returns the config.

    Called before any work, so a bad value is one clear error and never a half-made run folder."""
    for key, (low, high, low_ok, high_ok) in _RANGES.items():
        value = getattr(config, key)
        if value is None:
            continue
        inside = math.isfinite(value) and (low <= value if low_ok else low < value)
        inside = inside and (value <= high if high_ok else value < high)
        if not inside:
            lower = f"{'≥' if low_ok else '>'} {low:g}"
            upper = "" if high == math.inf else f" and {'≤' if high_ok else '<'} {high:g}"
            raise ConfigError(f"{key} must be a finite number {lower}{upper}, got {value!r}")
    for m in config.milestones:
        if not (math.isfinite(m) and m >= 0):
            raise ConfigError(f"milestones must be finite epochs ≥ 0, got {config.milestones!r}")
    if config.batch_size != "full" and (isinstance(config.batch_size, bool) or not isinstance(config.batch_size, int)
                                        or config.batch_size < 1):  # fmt: skip
        raise ConfigError(f"batch_size must be a positive integer or 'full', got {config.batch_size!r}")
    return config
