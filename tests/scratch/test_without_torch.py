"""The NumPy reference imports, builds, steps and trains in a process where torch cannot be imported."""

import json
import subprocess
import sys

NO_TORCH = r"""
import importlib.abc
import sys


class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"{name} is blocked in this test")


sys.meta_path.insert(0, NoTorch())
"""

SCRIPT = r"""
import json
from pathlib import Path

import numpy as np

import cnnlab
from cnnlab.scratch import (
    ArrayDataset, SoftmaxCrossEntropy, build_scratch_model, channel_stats, create_optimizer, evaluate, fit,
)

out = {}
try:
    import cnnlab.scratch.torch_bridge
except ImportError as e:
    out["bridge"] = str(e)

with np.load(Path(cnnlab.__file__).parent / "data" / "digits.npz", allow_pickle=False) as f:
    images, labels = f["images"], f["labels"]
x = (images.astype(np.float32) / 16.0)[:, None]  # (N, 8, 8) -> (N, 1, 8, 8)
y = labels.astype(np.int64)
is_test = np.arange(len(y)) % 5 == 4
mean, std = channel_stats(x[~is_test])
classes = tuple("0123456789")
train = ArrayDataset(x[~is_test], y[~is_test], classes, name="digits/train", mean=mean, std=std)
test = ArrayDataset(x[is_test], y[is_test], classes, name="digits/test", mean=mean, std=std)

# One step of LeNet-5 by hand: forward, loss, backward, update; the loss on the same batch must fall.
model = build_scratch_model("lenet5", input_size=8, act="relu", pool="max", seed=0)
opt = create_optimizer("sgd", model.parameters(), lr=0.1, momentum=0.0, weight_decay=0.0)
loss_fn = SoftmaxCrossEntropy()
batch = (train.images[:64] - mean[0]) / std[0], train.targets[:64]
before = loss_fn.forward(model.forward(batch[0]), batch[1])
model.backward(loss_fn.backward())
out["grad_norm"] = float(np.sqrt(sum((p.grad.astype(np.float64) ** 2).sum() for p in model.parameters())))
opt.step()
out["loss"] = [float(before), float(loss_fn.forward(model.forward(batch[0]), batch[1]))]

# A tiny training run, twice with one seed.
runs = []
for _ in range(2):
    mlp = build_scratch_model("mlp", input_size=8, depth=1, width=32, seed=1)
    result = fit(mlp, train, test, epochs=3, batch_size=32, lr=0.05, seed=1, log=None)
    runs.append([row.train_loss for row in result.history] + [result.test_accuracy, result.test_loss])
out["runs"] = runs
out["evaluate"] = list(evaluate(mlp, test))
out["torch_loaded"] = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print(json.dumps(out))
"""


def test_the_reference_builds_steps_and_trains_without_torch():
    code = NO_TORCH + "\nimport sys\n" + SCRIPT
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["bridge"] == "torch is blocked in this test"  # the blocker works, and only the bridge needs torch
    assert out["torch_loaded"] == []
    assert out["grad_norm"] > 0
    before, after = out["loss"]
    assert after < before
    first, second = out["runs"]
    assert first == second  # seeded: the same batches, the same numbers
    losses, accuracy, test_loss = first[:3], first[3], first[4]
    assert losses[0] > losses[1] > losses[2]
    assert accuracy > 0.9
    assert out["evaluate"] == [test_loss, accuracy]
