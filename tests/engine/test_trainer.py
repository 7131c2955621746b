import json
import math
import re

import pytest
import torch

from cnnlab import __version__
from cnnlab.engine import Callback, TrainConfig, Trainer, TrainingDiverged, load_checkpoint, train
from cnnlab.engine.clipping import make_clip
from cnnlab.engine.export import load_safetensors
from cnnlab.engine.losses import correct_count
from cnnlab.engine.trainer import host_values
from cnnlab.errors import ConfigError

# On the CPU even where a GPU is present: these tests compare exact numbers and file contents.
FAST = dict(
    model="lenet5", data="digits", epochs=2, batch_size=128, act="relu", progress=False, device="cpu"
)  # fmt: skip


def quiet(config: TrainConfig, **kw):
    return train(config, log=lambda _: None, **kw)


def test_run_directory_holds_everything(tmp_path):
    config = TrainConfig(**FAST, out=str(tmp_path / "run"), seed=5)
    result = quiet(config)
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text()) == config.to_dict()
    meta = json.loads((run / "run.json").read_text())
    assert meta["seed"] == 5 and meta["cnnlab"] == __version__ and meta["torch"] == torch.__version__
    assert meta["device"] == "cpu" and meta["config_digest"] == config.digest()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_accuracy"] == result.test_accuracy and metrics["test_loss"] == result.test_loss
    rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and rows[-1]["step"] == result.steps == 2 * 11
    csv_lines = (run / "history.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,step,lr,train_loss") and len(csv_lines) == 3
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"last.pt", "best.pt"}
    weights = load_safetensors(run / "model.safetensors")
    assert weights.keys() == load_checkpoint(run / "checkpoints" / "last.pt")["model"].keys()
    # 355 test images: the accuracy is a count of them
    assert round(result.test_accuracy * 355, 9) == round(result.test_accuracy * 355)


def test_same_seed_same_numbers_and_another_seed_differs(tmp_path):
    a = quiet(TrainConfig(**FAST, out=str(tmp_path / "a"), seed=1))
    b = quiet(TrainConfig(**FAST, out=str(tmp_path / "b"), seed=1))
    c = quiet(TrainConfig(**FAST, out=str(tmp_path / "c"), seed=2))
    wa, wb, wc = (load_safetensors(tmp_path / n / "model.safetensors") for n in "abc")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (a.test_loss, a.test_accuracy) == (b.test_loss, b.test_accuracy)
    assert not torch.equal(wa["features.c1.conv.weight"], wc["features.c1.conv.weight"])
    assert c.test_loss != a.test_loss


class PoisonGradient(Callback):
    """Puts a NaN into one gradient at a chosen step."""

    def __init__(self, step: int, name: str):
        self.step, self.name = step, name

    def on_after_backward(self, state):
        if state.step + 1 == self.step:
            dict(state.model.named_parameters())[self.name].grad.view(-1)[0] = math.nan


def test_non_finite_gradient_stops_in_its_step_and_keeps_the_last_good_checkpoint(tmp_path):
    config = TrainConfig(**FAST, out=str(tmp_path / "run"))
    with pytest.raises(TrainingDiverged) as info:
        quiet(config, callbacks=[PoisonGradient(15, "head.hidden.2.weight")])
    message = str(info.value)
    assert message.startswith("step 15 (epoch 2): the gradient is not finite")
    assert "largest gradient: head.hidden.2.weight (gradient norm nan)" in message
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert last["step"] == 11 and last["epoch"] == 1  # epoch 1's checkpoint, untouched
    assert all(torch.isfinite(v).all() for v in last["model"].values())
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_diverging_learning_rate_is_caught(tmp_path):
    config = TrainConfig(**{**FAST, "lr": 1e6, "momentum": 0.0}, out=str(tmp_path / "run"))
    with pytest.raises(TrainingDiverged, match=r"^step \d+ \(epoch 1\): the (loss|gradient) is not finite"):
        quiet(config)


class BreakEvalNorms(Callback):
    """From epoch `start` on, make BatchNorm's running variance negative: eval outputs NaN, training is unharmed."""

    def __init__(self, start: int):
        self.start = start

    def on_step_end(self, state):
        if state.epoch + 1 >= self.start:
            for m in state.model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_var.fill_(-1.0)


def test_nan_validation_never_becomes_best_and_stops_early(tmp_path):
    config = TrainConfig(**{**FAST, "epochs": 8, "norm": "batch"}, early_stopping=2, out=str(tmp_path / "run"))
    result = quiet(config, callbacks=[BreakEvalNorms(start=2)])
    assert result.epochs == 3  # epoch 1 best; epochs 2 and 3 have NaN validation loss; patience 2 ends the run
    assert result.best_epoch == 1
    assert math.isnan(result.history[1]["val_loss"])
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")["epoch"] == 1


class Record(Callback):
    def __init__(self):
        self.norms, self.after_clip = [], []

    def on_after_backward(self, state):
        grads = [p.grad for p in state.model.parameters()]
        self.norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())

    def on_step_end(self, state):
        self.norms[-1] = (self.norms[-1], state.metrics["grad_norm"])
        grads = [p.grad for p in state.model.parameters()]
        self.after_clip.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())


def test_gradient_norm_is_logged_before_clipping_and_clipping_bounds_it(tmp_path):
    record = Record()
    quiet(TrainConfig(**{**FAST, "epochs": 1}, clip_norm=0.1, out=str(tmp_path / "run")), callbacks=[record])
    for before, logged in record.norms:
        assert logged == pytest.approx(before, rel=1e-5)
    assert max(record.after_clip) <= 0.1 + 1e-6
    assert max(n for n, _ in record.norms) > 0.1  # the clip did something


def test_batch_gradient_descent_and_penalties(tmp_path):
    config = TrainConfig(**{**FAST, "epochs": 3, "batch_size": "full"}, l2=1e-3, out=str(tmp_path / "run"))
    result = quiet(config)
    assert result.steps == 3  # one step per epoch: the whole training set
    assert all(row["train_penalty"] > 0 for row in result.history)


def test_channels_last_on_conv_nets_by_default(tmp_path):
    seen = {}

    class Look(Callback):
        def on_train_start(self, state):
            seen["format"] = state.model.features.c1.conv.weight.is_contiguous(memory_format=torch.channels_last)

    quiet(TrainConfig(**{**FAST, "epochs": 1}, out=str(tmp_path / "run")), callbacks=[Look()])
    assert seen["format"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"batch_size": 0}, "batch_size must be a positive integer or 'full'"),
        ({"clip_norm": 1.0, "clip_value": 1.0}, "choose one of --clip-norm and --clip-value"),
        ({"amp": "fp16"}, "fp16 mixed precision needs a CUDA device"),
        ({"model": "resnet19"}, "unknown model 'resnet19'"),
        ({"test_split": "test[400:]"}, "split 'test[400:]' of digits is empty"),
        ({"val_fraction": 1.0}, "val_fraction must be a finite number ≥ 0 and < 1"),
    ],
)
def test_bad_configs_fail_before_writing(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        quiet(TrainConfig(**{**FAST, **changes}, out=str(tmp_path / "run")))
    assert not (tmp_path / "run").exists()


def test_tensorboard_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = quiet(TrainConfig(**FAST, tensorboard=True, out=str(tmp_path / "run")))
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    val_loss = [e.value for e in events.Scalars("epoch/val_loss")]
    assert val_loss == pytest.approx([row["val_loss"] for row in result.history], rel=1e-6)
    assert [e.step for e in events.Scalars("step/loss")] == [10, 20]


def test_trains_on_a_lazy_image_folder_through_the_stream_loader(tmp_path):
    from PIL import Image

    for k, name in enumerate(("dark", "light")):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(12):
            pixels = torch.full((8, 8), 40 + 150 * k + i, dtype=torch.uint8).numpy()
            Image.fromarray(pixels, mode="L").save(tmp_path / "images" / name / f"{i}.png")
    config = TrainConfig(
        model="mlp", data="folder", data_dir=str(tmp_path / "images"), data_kwargs={"lazy": True, "grayscale": True},
        epochs=3, batch_size=4, lr=0.01, progress=False, out=str(tmp_path / "run"),
    )  # fmt: skip
    result = quiet(config)
    assert result.steps == 3 * 5  # 24 images: 2 per class test, 2 of the other 20 validate: 18 train, 5 batches
    assert result.test_accuracy == 1.0  # two flat grey levels are easy


def test_multilabel_shapes_train_with_per_class_sigmoid(tmp_path):
    config = TrainConfig(
        model="lenet5", data="shapes", data_kwargs={"task": "multilabel", "n_train": 256, "n_test": 64},
        epochs=1, batch_size=64, progress=False, out=str(tmp_path / "run"),
    )  # fmt: skip
    result = quiet(config)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["loss"] == "auto"
    assert 0.0 < result.test_loss < 1.0  # BCE averaged over the 10 classes, not summed


def test_checkpoint_interval_saves_first_and_last_epoch_and_keeps_the_best(tmp_path, monkeypatch):
    from cnnlab.engine.checkpoint import CheckpointWriter

    written = []
    save = CheckpointWriter.save

    def spy(self, path, state, **kw):
        written.append((path.name, state["epoch"], state["best"]["epoch"]))
        save(self, path, state, **kw)

    monkeypatch.setattr(CheckpointWriter, "save", spy)
    base = {**FAST, "epochs": 5, "lr": 0.3, "momentum": 0.0, "seed": 3}
    every = quiet(TrainConfig(**base, checkpoint_interval=0, out=str(tmp_path / "every")))
    assert [w[:2] for w in written if w[0] == "last.pt"] == [("last.pt", e) for e in range(1, 6)]
    written.clear()
    sparse = quiet(TrainConfig(**base, checkpoint_interval=1e9, out=str(tmp_path / "sparse")))
    # epoch 1 and the last epoch only; the best epoch's state, kept in memory, goes out just before the last
    assert [w[:2] for w in written if w[0] == "last.pt"] == [("last.pt", 1), ("last.pt", 5)]
    assert (sparse.test_loss, sparse.best_epoch) == (every.test_loss, every.best_epoch)
    assert every.best_epoch not in (1, 5)  # so that best.pt had to wait in memory
    best = [load_checkpoint(tmp_path / run / "checkpoints" / "best.pt") for run in ("every", "sparse")]
    assert best[0]["epoch"] == best[1]["epoch"] == every.best_epoch
    assert all(torch.equal(best[0]["model"][k], best[1]["model"][k]) for k in best[0]["model"])
    assert written.index(("best.pt", every.best_epoch, every.best_epoch)) < len(written) - 1


def test_a_diverging_run_still_writes_the_best_epoch_it_held_in_memory(tmp_path):
    base = {**FAST, "epochs": 5, "lr": 0.3, "momentum": 0.0, "seed": 3}  # best epoch 2 (see the test above)
    config = TrainConfig(**base, checkpoint_interval=1e9, out=str(tmp_path / "run"))
    with pytest.raises(TrainingDiverged, match=r"^step 30 \(epoch 3\)"):
        quiet(config, callbacks=[PoisonGradient(30, "head.hidden.2.weight")])
    checkpoints = tmp_path / "run" / "checkpoints"
    assert load_checkpoint(checkpoints / "last.pt")["epoch"] == 1  # the interval kept epoch 2 off the disk …
    assert load_checkpoint(checkpoints / "best.pt")["epoch"] == 2  # … but not the best epoch's state


def test_training_accuracy_counts_every_sample_of_the_epoch(tmp_path):
    # A learning rate too small to change a prediction: the epoch's training accuracy is then the model's accuracy
    # on the training split, counted here in one pass (the trainer counts 16 batches at a time, and the last ones
    # at the end of the epoch).
    config = TrainConfig(**{**FAST, "epochs": 1, "batch_size": 50}, optimizer="sgd", lr=1e-12, out=str(tmp_path / "r"))
    trainer = Trainer(config, log=lambda _: None)
    assert len(trainer.train_loader) > trainer.task.counter.every  # some batches are counted before the epoch ends
    result = trainer.fit()
    data = trainer.train_data
    with torch.no_grad():
        inputs = (data.images - torch.tensor(data.mean).view(1, -1, 1, 1)) / torch.tensor(data.std).view(1, -1, 1, 1)
        correct = correct_count(trainer.model(inputs), data.targets).item()
    assert result.history[0]["train_accuracy"] * len(data) == pytest.approx(correct, abs=1e-9)


def test_the_gradient_buffer_changes_no_number(tmp_path):
    def run(name: str, buffer: bool) -> Trainer:
        config = TrainConfig(**{**FAST, "epochs": 1}, optimizer="adam", norm="batch", out=str(tmp_path / name))
        trainer = Trainer(config, log=lambda _: None)
        assert trainer.grad_buffer is not None
        if not buffer:  # PyTorch's own gradients: zero_grad(set_to_none=True), a norm per parameter
            trainer.grad_buffer, trainer.clip = None, make_clip(config, trainer.params)
        trainer.fit()
        return trainer

    ours, theirs = run("buffer", True), run("torch", False)
    for (name, p), q in zip(ours.model.state_dict().items(), theirs.model.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert [r["train_loss"] for r in ours.history] == [r["train_loss"] for r in theirs.history]
    assert ours.state.metrics["grad_norm"] == pytest.approx(theirs.state.metrics["grad_norm"], rel=1e-6)


def test_one_transfer_and_one_item_each_give_the_same_values():
    weight = torch.tensor([1.5, -2.0], requires_grad=True)
    scalars = [(weight**2).sum(), torch.tensor(math.inf), torch.tensor(0.1), torch.tensor(math.nan)]
    stacked, each = host_values(scalars, one_transfer=True), host_values(scalars, one_transfer=False)
    assert stacked[:3] == each[:3] == [6.25, math.inf, torch.tensor(0.1).item()]
    assert math.isnan(stacked[3]) and math.isnan(each[3])
