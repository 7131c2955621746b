"""Every run draws its pictures: each exists after a short run of each task, opens, is wide and not blank, and
shows the run's own numbers (the confusion matrix's counts are the test split's predictions; a detector's PR curve
has the area of its recorded AP50; multi-label APs are sklearn's); `cnnlab plot` labels runs by what differs."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import average_precision_score

from cnnlab._figures import FIGURES, save_figure
from cnnlab._painter import Painter
from cnnlab.cli import main
from cnnlab.engine import TrainConfig, compare_runs, run_pictures, train
from cnnlab.engine.pictures import RunView, class_scores, ending_of, run_figures, view_run

DRAWN = {"progress": False, "plots": True}  # the suite turns pictures off by default (conftest.py)
SMALL_SHAPES = {"n_train": 256, "n_test": 96}


def run(tmp_path_factory, name: str, **config) -> tuple:
    """A run for the module's tests, on one thread; the thread count is given back (a module fixture outlives the
    suite's per-test restore, and the resume tests compare with subprocesses on the default count)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = tmp_path_factory.mktemp(name) / "run"
        return out, train(TrainConfig(out=str(out), **DRAWN, **config), log=lambda _: None)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return run(tmp_path_factory, "digits", model="lenet5", data="digits", epochs=2)


@pytest.fixture(scope="module")
def detection_run(tmp_path_factory):
    return run(tmp_path_factory, "det", model="tinydet", data="shapes", epochs=2, batch_size=32, lr=3e-3,
               data_kwargs={"task": "detection", **SMALL_SHAPES})  # fmt: skip


@pytest.fixture(scope="module")
def multilabel_run(tmp_path_factory):
    return run(tmp_path_factory, "ml", model="small_cnn", data="shapes", epochs=2, batch_size=32,
               data_kwargs={"task": "multilabel", **SMALL_SHAPES})  # fmt: skip


def assert_picture(path) -> None:
    """It opens, is at least 600 pixels wide and is not one flat colour."""
    with Image.open(path) as image:
        image.load()
        assert image.width >= 600, (path, image.size)
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert pixels.var() > 100, (path, pixels.var())  # a blank or nearly blank canvas has almost no variance


def cell_counts(figure) -> dict[tuple[int, int], int]:
    """The counts printed in a confusion figure's cells, by (true, predicted)."""
    ax = figure.axes[0]
    return {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in ax.texts}


def test_a_classifier_draws_curves_confusion_and_mistakes(digits_run):
    out, _ = digits_run
    for name in ("curves.png", "confusion.png", "mistakes.png"):
        assert_picture(out / name)
    assert not (out / "pr_curves.png").exists() and not (out / "predictions.png").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    counts = cell_counts(run_pictures(out)["confusion.png"])
    n = 355  # the digits test split
    assert sum(counts.values()) == n
    assert sum(c for (t, p), c in counts.items() if t == p) == round(metrics["test_accuracy"] * n)


def test_the_confusion_matrix_is_the_models_predictions(digits_run):
    out, _ = digits_run
    view = view_run(out)
    scores, targets = class_scores(view.model, view.test, multilabel=False)
    expected = np.zeros((10, 10), int)
    np.add.at(expected, (targets, scores.argmax(1)), 1)
    counts = cell_counts(run_figures(view)["confusion.png"])
    assert counts == {(t, p): int(c) for (t, p), c in np.ndenumerate(expected) if c}


def test_the_runs_own_test_evaluation_hands_the_pictures_its_scores(digits_run):
    import contextlib

    from cnnlab.data import make_loader
    from cnnlab.engine.distributed import World
    from cnnlab.engine.tasks import make_task

    view = view_run(digits_run[0])
    task = make_task(view.config, view.test, view.model)
    loader = make_loader(view.test, 100, shuffle=False, seed=0, augment=None, device="cpu")
    metrics = task.evaluate(view.model.eval(), loader, world=World(), autocast=contextlib.nullcontext(),
                            memory_format=torch.contiguous_format, keep=True)  # fmt: skip
    scores, targets = task.evaluated
    expected_scores, expected_targets = class_scores(view.model, view.test, multilabel=False)
    assert np.array_equal(targets, expected_targets) and np.allclose(scores, expected_scores, rtol=0, atol=1e-6)
    assert (scores.argmax(1) == targets).mean() == metrics["accuracy"]
    known = run_figures(RunView(**{**view.__dict__, "evaluated": (scores, targets)}))["confusion.png"]
    assert cell_counts(known) == cell_counts(run_figures(view)["confusion.png"])


def test_the_curves_show_the_history_and_mark_the_best_epoch(digits_run):
    _, result = digits_run
    figure = run_pictures(result)["curves.png"]
    loss, metric, lr = figure.axes
    lines = {line.get_label(): line for line in loss.get_lines()}
    assert list(lines["train loss"].get_ydata()) == [row["train_loss"] for row in result.history]
    assert list(lines["val loss"].get_ydata()) == [row["val_loss"] for row in result.history]
    assert list(lr.get_lines()[0].get_ydata()) == [row["lr"] for row in result.history]
    assert f"best epoch {result.best_epoch}" in lines
    assert "lenet5 on digits: 2 epochs, best epoch" in figure._suptitle.get_text()
    assert [line.get_label() for line in metric.get_lines()][:2] == ["train accuracy", "val accuracy"]


def test_the_title_says_a_run_stopped_early_or_diverged():
    config = TrainConfig(model="mlp", data="digits", epochs=30, early_stopping=3)
    rows = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.0, "lr": 0.1} for e in (1, 2, 3, 4)]
    early = RunView(config, "classification", rows, 1, ending_of(config, 4))
    assert (
        "stopped early after epoch 4 of 30, 3 epochs without a better"
        in run_figures(early)["curves.png"]._suptitle.get_text()
    )
    diverged = RunView(config, "classification", rows, 1, ending_of(config, 4, diverged="the loss blew up at step 9"))
    assert (
        "diverged in epoch 5 of 30 (the loss blew up at step 9)"
        in run_figures(diverged)["curves.png"]._suptitle.get_text()
    )


def test_a_diverged_run_still_draws_its_curves(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "lenet5", "--data", "digits", "--lr", "1e12", "--optimizer", "sgd", "--plots", "--out", str(out)]
    assert main(argv) == 3
    assert capsys.readouterr().err.count("\n") == 1
    with Image.open(out / "curves.png") as image:
        assert image.width >= 600
    assert not (out / "confusion.png").exists()  # a diverged model's test pictures would show nothing learned


def test_a_detector_draws_pr_curves_whose_area_is_its_ap50(detection_run):
    out, _ = detection_run
    for name in ("curves.png", "pr_curves.png", "predictions.png"):
        assert_picture(out / name)
    metrics = json.loads((out / "metrics.json").read_text())
    figure = run_pictures(out)["pr_curves.png"]  # drawn anew from the folder, as `cnnlab eval` scores it
    at50, at75 = figure.axes
    mean50 = next(line for line in at50.get_lines() if line.get_label().startswith("all classes"))
    assert abs(np.mean(mean50.get_ydata()) - metrics["test_map50"]) < 1e-6
    assert mean50.get_label() == f"all classes (AP {metrics['test_map50']:.3f})"
    mean75 = next(line for line in at75.get_lines() if line.get_label().startswith("all classes"))
    assert abs(np.mean(mean75.get_ydata()) - metrics["test_map75"]) < 1e-6
    classes = [line.get_label().split(" (AP")[0] for line in at50.get_lines()]
    assert "circle" in classes and len(classes) == len(set(classes))


def test_multilabel_pr_curves_carry_sklearns_average_precision(multilabel_run):
    out, _ = multilabel_run
    assert_picture(out / "curves.png")
    assert_picture(out / "pr_curves.png")
    assert not (out / "confusion.png").exists()
    view = view_run(out)
    scores, targets = class_scores(view.model, view.test, multilabel=True)
    (ax,) = run_figures(view)["pr_curves.png"].axes
    shown = {line.get_label().split(" (AP ")[0]: line.get_label() for line in ax.get_lines()}
    for k, name in enumerate(view.test.classes):
        if targets[:, k].any():
            assert shown[name] == f"{name} (AP {average_precision_score(targets[:, k], scores[:, k]):.3f})"


def test_regression_and_the_scratch_engine_draw_their_pictures(tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "lstm"
    train(TrainConfig(model="lstm", data="adding", model_kwargs={"hidden": 8}, epochs=1, out=str(out), **DRAWN),
          log=lambda _: None)  # fmt: skip
    assert_picture(out / "curves.png")
    assert sorted(p.name for p in out.glob("*.png")) == ["curves.png"]
    out = tmp_path / "scratch"
    train(TrainConfig(model="lenet5", data="digits", engine="scratch", epochs=1, out=str(out), **DRAWN),
          log=lambda _: None)  # fmt: skip
    for name in ("curves.png", "confusion.png", "mistakes.png"):
        assert_picture(out / name)


def test_no_plots_writes_no_picture_and_diagnose_keeps_its_own(tmp_path, capsys):
    out = tmp_path / "bare"
    assert main(["train", "mlp", "--data", "digits", "--epochs", "1", "--no-plots", "--out", str(out)]) == 0
    assert list(out.rglob("*.png")) == []
    out = tmp_path / "diag"
    assert main(["train", "mlp", "--data", "digits", "--epochs", "1", "--diagnose", "--plots", "--out", str(out)]) == 0
    capsys.readouterr()
    names = {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert {"curves.png", "confusion.png", "diagnostics/grad_heatmap.png", "diagnostics/units.png"} <= names


def test_the_painter_process_draws_what_it_is_sent_and_names_what_fails(tmp_path):
    """(A painter that writes every figure finishes with None: the rehearsal test below.)"""
    rows = [{"epoch": 1, "train_loss": 1.0, "lr": 0.1}, {"epoch": 2, "train_loss": 0.5, "lr": 0.05}]
    painter = Painter()
    painter.draw(tmp_path / "bad.png", "curves", {"history": rows, "task": "no such task", "title": "t"})
    assert painter.finish() == "KeyError: 'no such task'"
    assert not (tmp_path / "bad.png").exists() and not list(tmp_path.glob(".*.tmp"))
    painter = Painter()  # a figure that fails as it is written (on Linux, in the copy of the painter drawing it)
    (tmp_path / "a-file").write_text("")
    painter.draw(tmp_path / "c.png", "curves", {"history": rows, "task": "classification", "title": "t"})
    painter.draw(tmp_path / "a-file" / "c.png", "curves", {"history": rows, "task": "classification", "title": "t"})
    why = painter.finish()
    assert why is not None and why.startswith("FileExistsError: ") and str(tmp_path / "a-file") in why, why
    assert_picture(tmp_path / "c.png")  # the other figure is written


def test_without_fork_the_painter_draws_each_figure_itself(tmp_path, monkeypatch):
    import io

    from cnnlab import _painter

    rows = [{"epoch": 1, "train_loss": 1.0, "lr": 0.1}, {"epoch": 2, "train_loss": 0.5, "lr": 0.05}]
    lines = [{"path": None, "figure": "curves", "args": {"history": rows[:1], "task": "classification", "title": "r"}},
             {"path": str(tmp_path / "c.png"), "figure": "curves",
              "args": {"history": rows, "task": "classification", "title": "t"}}]  # fmt: skip
    monkeypatch.setattr(_painter, "FORKS", False)  # as on Windows and macOS
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(json.dumps(line) + "\n" for line in lines)))
    monkeypatch.setattr("signal.signal", lambda *args: None)  # the suite's Ctrl-C stays its own
    assert _painter.main() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png"]
    assert_picture(tmp_path / "c.png")


def test_killing_the_painter_ends_every_copy_drawing_for_it(tmp_path):
    painter = Painter()
    rows = [{"epoch": e, "train_loss": 1 / e, "lr": 0.1} for e in range(1, 4)]
    for i in range(3):
        painter.draw(tmp_path / f"c{i}.png", "curves", {"history": rows, "task": "classification", "title": "t"})
    painter.kill()
    with pytest.raises(ProcessLookupError):  # no process is left in the painter's group
        os.killpg(painter.process.pid, 0)


def test_a_figure_drawn_into_a_rehearsal_has_the_pixels_of_a_new_one(tmp_path):
    """The painter keeps the figures it rehearses (no path: drawn, not written) and draws the run's final ones into
    them; what it writes is pixel for pixel what a new figure gives, though the axis changed scale and size."""
    painter = Painter()
    first = [{"epoch": 1, "train_loss": 2.0, "val_loss": 2.1, "train_accuracy": 0.3, "lr": 0.1}]
    # the loss falls over decades: the loss axis turns logarithmic
    rows = [{"epoch": e, "train_loss": 2 / e**3, "val_loss": 2 / e**2, "train_accuracy": 1 - 0.7 / e, "lr": 0.1 / e}
            for e in range(1, 11)]  # fmt: skip
    classes = ["cat", "dog", "bird"]
    final = {
        "curves": {"history": rows, "task": "classification", "title": "10 epochs", "best_epoch": 9},
        "confusion": {"counts": [[50, 2, 0], [3, 40, 1], [0, 0, 7]], "classes": classes, "title": "test"},
    }
    painter.draw(None, "curves", {"history": first, "task": "classification", "title": "rehearsal", "best_epoch": 1})
    # as a run rehearses: the curves once more with a loss falling over decades (a log axis, unlike the final's)
    decades = [*first, {"epoch": 2, "train_loss": 1e-4, "lr": 0.1}]
    painter.draw(None, "curves", {"history": decades, "task": "classification", "title": "r", "best_epoch": 1})
    painter.draw(None, "confusion", {"counts": np.eye(3, dtype=int).tolist(), "classes": classes, "title": "r"})
    for name, args in final.items():
        painter.draw(tmp_path / f"{name}.png", name, args)
    assert painter.finish() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion.png", "curves.png"]  # rehearsals write nothing
    for name, args in final.items():
        new = save_figure(FIGURES[name](**args), tmp_path / "new" / f"{name}.png")
        with Image.open(tmp_path / f"{name}.png") as kept, Image.open(new) as fresh:
            assert np.array_equal(np.asarray(kept), np.asarray(fresh)), name


def test_a_figure_is_drawn_into_the_rehearsal_whose_loss_axis_has_its_scale():
    def curves(losses, into=None):
        rows = [{"epoch": e, "train_loss": loss, "lr": 0.1} for e, loss in enumerate(losses, 1)]
        return FIGURES["curves"](history=rows, task="classification", title="t", into=into)

    linear, log = curves([2.0, 1.0]), curves([2.0, 0.01])
    assert [f.axes[0].get_yscale() for f in (linear, log)] == ["linear", "log"]
    assert curves([3.0, 0.02], into=[linear, log]) is log
    assert curves([3.0, 2.0], into=[log, linear]) is linear
    assert curves([3.0, 0.02], into=[linear]) is linear and linear.axes[0].get_yscale() == "log"  # rescaled
    regression = FIGURES["curves"](history=[{"epoch": 1, "train_loss": 1.0}], task="regression", title="t")
    assert curves([1.0], into=[regression]) not in (regression, linear, log)  # other panels: a new figure


def test_pictures_are_on_unless_the_environment_turns_them_off(monkeypatch):
    monkeypatch.delenv("CNNLAB_PLOTS")
    assert TrainConfig().plots is True
    monkeypatch.setenv("CNNLAB_PLOTS", "0")
    assert TrainConfig().plots is False and TrainConfig(plots=True).plots is True


def test_a_resumed_run_draws_its_pictures_again(digits_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(digits_run[0], copy)
    for picture in copy.glob("*.png"):
        picture.unlink()
    assert main(["train", "--resume", str(copy)]) == 0  # finished: evaluated again, and drawn
    capsys.readouterr()
    assert {p.name for p in copy.glob("*.png")} == {"curves.png", "confusion.png", "mistakes.png"}


def test_an_in_memory_run_draws_its_curves(tmp_path):
    torch.set_num_threads(1)
    result = train(TrainConfig(model="mlp", data="digits", epochs=1, **DRAWN), in_memory=True, log=lambda _: None)
    assert set(run_pictures(result)) == {"curves.png"}


def test_cnnlab_plot_labels_runs_by_the_option_that_differs(tmp_path, capsys):
    runs = []
    for act in ("sigmoid", "relu"):
        runs.append(tmp_path / act)
        argv = ["train", "mlp", "--data", "digits", "--epochs", "2", "--act", act, "--no-plots", "--out", str(runs[-1])]
        assert main(argv) == 0
    figure = compare_runs(runs)
    for ax in figure.axes:
        assert [line.get_label() for line in ax.get_lines()] == ["act=sigmoid", "act=relu"]
    assert "differing in act" in figure._suptitle.get_text()
    (only,) = compare_runs(runs, metric="train_accuracy").axes
    histories = [[json.loads(line) for line in (r / "history.jsonl").read_text().splitlines()] for r in runs]
    for line, history in zip(only.get_lines(), histories, strict=True):
        assert list(line.get_ydata()) == [row["train_accuracy"] for row in history]
    picture = tmp_path / "acts.png"
    capsys.readouterr()
    assert main(["plot", str(runs[0]), str(runs[1]), "--out", str(picture)]) == 0
    assert_picture(picture)
    before = picture.read_bytes()
    assert main(["plot", str(runs[0]), "--out", str(picture)]) == 2  # never overwrites
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and picture.read_bytes() == before
    assert main(["plot", str(runs[0]), "--metric", "val_acc", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "val_accuracy" in err and not (tmp_path / "x.png").exists()
    assert main(["plot", str(tmp_path / "missing"), "--out", str(tmp_path / "y.png")]) == 2
    assert "holds no history.jsonl" in capsys.readouterr().err
