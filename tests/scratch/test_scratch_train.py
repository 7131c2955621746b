"""The scratch LeNet-5 really trains: ≥ 97% on the embedded digits, reproducibly, and its weights run in PyTorch."""

import contextlib
import dataclasses
import io
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from cnnlab.data import TensorLoader, load_digits
from cnnlab.errors import ConfigError, TrainingDiverged
from cnnlab.scratch.models import build_scratch_model
from cnnlab.scratch.torch_bridge import to_torch
from cnnlab.scratch.train import evaluate, fit, learning_rate

PAGE = (Path(__file__).parents[2] / "docs" / "scratch.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def digits():
    return load_digits("train"), load_digits("test")


@pytest.fixture(scope="module")
def trained():
    """docs/scratch.md's example, run as written: ReLU and max pooling, the default recipe, seed 0 (about 10 s)."""
    code = next(block for block in re.findall(r"```python\n(.*?)```", PAGE, re.S) if "cnnlab.scratch" in block)
    namespace = {}
    out = io.StringIO()
    with threadpool_limits(1), contextlib.redirect_stdout(out):  # small matrices: threads would only contend
        exec(compile(code, "docs/scratch.md", "exec"), namespace)  # the page's own example, nothing else
    return namespace["model"], namespace["result"], out.getvalue().splitlines()


def test_lenet5_reaches_97_percent_on_digits(trained):
    _, result, lines = trained
    assert result.test_accuracy >= 0.97, lines[-2]
    assert len(result.history) == result.config["epochs"] == len(lines) - 1  # one line per epoch, then the result
    assert lines[-1] == f"{result.test_accuracy:.2%}"
    assert result.history[-1].test_accuracy == result.test_accuracy
    assert result.history[-1].train_loss < result.history[0].train_loss / 10
    assert lines[-2].startswith("epoch 30/30  train loss ")


def test_classic_tanh_average_pooling_lenet5_trains(digits):
    # 97.66% ± 0.68% over 10 seeds (benchmarks/README.md); one seed is asserted with a margin for other BLAS builds
    with threadpool_limits(1):
        model = build_scratch_model("lenet5", input_size=8, seed=0)
        result = fit(model, *digits, seed=0, log=None)  # the default recipe
    assert result.test_accuracy >= 0.96, result.history[-1]


def test_trained_weights_run_in_the_torch_twin(trained, digits):
    model, result, _ = trained
    test = digits[1]
    twin = to_torch(model).eval()
    x = next(iter(TensorLoader(test, len(test), shuffle=False))).inputs  # normalized as in training
    ours = model.eval().forward(x.numpy())
    theirs = twin(x).detach().numpy()
    # float32 logits of a trained net reach ~30, where one rounding step is 2e-6: compare on their scale, and the
    # class probabilities absolutely
    assert np.abs(ours - theirs).max() <= 1e-6 * np.abs(theirs).max()
    probabilities = torch.softmax(torch.from_numpy(ours), dim=1).numpy()
    np.testing.assert_allclose(probabilities, torch.softmax(twin(x), dim=1).detach().numpy(), rtol=0, atol=1e-6)
    # the same weights in float64 agree to rounding
    exact = build_scratch_model("lenet5", input_size=8, act="relu", pool="max", dtype=np.float64)
    exact.load_state_dict(model.state_dict())
    np.testing.assert_allclose(
        exact.eval().forward(x.double().numpy()), to_torch(exact).eval()(x.double()).detach().numpy(), atol=1e-12
    )
    accuracy = float((theirs.argmax(axis=1) == test.targets.numpy()).mean())
    assert accuracy == result.test_accuracy
    loss, acc = evaluate(model, test)
    # float32 sums: the BLAS may split a matrix product differently from one call to the next (threads, alignment)
    assert acc == result.test_accuracy and math.isclose(loss, result.test_loss, rel_tol=1e-6)


def test_training_is_reproducible(digits):
    train, test = digits
    small = train.subset(slice(0, 256))

    def run(seed):
        model = build_scratch_model("lenet5", input_size=8, act="relu", pool="max", dropout=0.2, seed=seed)
        return fit(model, small, test, epochs=2, batch_size=64, seed=seed, log=None)

    a, b, c = run(1), run(1), run(2)
    strip = [dataclasses.replace(h, seconds=0.0) for h in a.history]
    assert strip == [dataclasses.replace(h, seconds=0.0) for h in b.history]
    assert strip != [dataclasses.replace(h, seconds=0.0) for h in c.history]
    assert a.config == b.config and a.config["seed"] == 1


def test_cosine_schedule():
    assert learning_rate("cosine", 0.1, 0, 100) == 0.1
    assert learning_rate("cosine", 0.1, 50, 100) == pytest.approx(0.05)
    assert learning_rate("cosine", 0.1, 100, 100) == pytest.approx(0.0)
    assert learning_rate("constant", 0.1, 70, 100) == 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"schedule": "cosin"}, "unknown learning-rate schedule 'cosin'; did you mean 'cosine'?"),
        ({"optimizer": "adamm"}, "unknown optimizer (NumPy reference) 'adamm'"),
    ],
)
def test_bad_training_arguments(digits, kwargs, message):
    model = build_scratch_model("mlp", input_size=8, depth=1, width=8)
    with np.errstate(all="ignore"), pytest.raises(ConfigError) as info:
        fit(model, digits[0].subset(slice(0, 64)), **kwargs, log=None)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("lr", "guard", "message"),
    [
        (1e6, True, r"^step 2 \(epoch 1\): training diverged: the loss 4\.63\d*e\+10 passed 10000 × 2\.418, the first "
                    r"step's loss \(lr 1e\+06\); lower --lr, or turn this check off with --no-divergence-guard"),
        (1e30, False, r"^step \d+ \(epoch 1\): the loss is not finite \(loss (nan|inf), lr 1e\+30\); lower --lr$"),
    ],
)  # fmt: skip
def test_a_diverging_loss_stops_the_step_like_the_torch_engine(digits, lr, guard, message):
    model = build_scratch_model("mlp", input_size=8, depth=1, width=8)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match=message):
        fit(model, digits[0].subset(slice(0, 64)), lr=lr, epochs=2, batch_size=16, schedule="constant",
            log=None, divergence_guard=guard)  # fmt: skip


def test_multilabel_data_is_refused(digits):
    train = digits[0]
    multi = dataclasses.replace(train, targets=torch.nn.functional.one_hot(train.targets, 10).float())
    with pytest.raises(ConfigError, match="single-label"):
        fit(build_scratch_model("mlp", input_size=8), multi, log=None)


def test_augmentation_is_applied_to_every_training_batch(digits):
    calls = []

    def flip(x, g):
        calls.append((tuple(x.shape), isinstance(g, torch.Generator)))
        return x.flip(-1)

    model = build_scratch_model("mlp", input_size=8, depth=1, width=8)
    result = fit(model, digits[0].subset(slice(0, 100)), epochs=2, batch_size=32, augment=flip, log=None)
    assert calls == ([((32, 1, 8, 8), True)] * 3 + [((4, 1, 8, 8), True)]) * 2  # 100 = 3·32 + 4, two epochs
    assert result.config["augment"] == "flip" and result.test_accuracy is None
