import io
import sys

import pytest

from cnnlab.engine.history import HistoryWriter, Progress, write_history

ROWS = [
    {"epoch": 1, "step": 11, "lr": 0.1, "train_loss": 2.25, "val_loss": 2.0, "seconds": 0.5},
    {"epoch": 2, "step": 22, "lr": 0.05, "train_loss": 1.5, "val_loss": float("nan"), "seconds": 0.25},
    {"epoch": 3, "step": 33, "lr": 1e-7, "train_loss": 0.75, "val_loss": 0.5, "seconds": 0.125},
]


def files(run_dir):
    return (run_dir / "history.jsonl").read_bytes(), (run_dir / "history.csv").read_bytes()


def test_appending_row_by_row_equals_writing_all_rows_at_once(tmp_path):
    (tmp_path / "appended").mkdir()
    (tmp_path / "whole").mkdir()
    writer = HistoryWriter(tmp_path / "appended")
    for n in range(1, len(ROWS) + 1):
        writer.write(ROWS[:n])
        write_history(tmp_path / "whole", ROWS[:n])
        assert files(tmp_path / "appended") == files(tmp_path / "whole")
    assert files(tmp_path / "whole")[1].count(b"\n") == 4  # header + 3 rows


@pytest.mark.parametrize("case", ["resumed", "new column"])
def test_a_resumed_run_or_a_new_column_rewrites_the_files(tmp_path, case):
    (tmp_path / "run").mkdir()
    (tmp_path / "whole").mkdir()
    HistoryWriter(tmp_path / "run").write(ROWS)  # three rows on disk
    if case == "resumed":  # the checkpoint was taken after epoch 1: a new process goes on from there
        rows = [ROWS[0], {**ROWS[1], "train_loss": 9.0}]
        HistoryWriter(tmp_path / "run").write(rows)
    else:
        writer = HistoryWriter(tmp_path / "run")
        writer.write(ROWS[:2])
        rows = [*ROWS[:2], {**ROWS[2], "extra": 1.0}]
        writer.write(rows)
    write_history(tmp_path / "whole", rows)
    assert files(tmp_path / "run") == files(tmp_path / "whole")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("interval", "asked"), [(0.0, 500), (3600.0, 1)])
def test_progress_values_are_formatted_only_when_the_bar_is_redrawn(monkeypatch, interval, asked):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    calls = []

    def values():
        calls.append(1)
        return {"loss": 0.25 * len(calls), "acc": 0.875, "lr": 0.001}

    progress = Progress(True, interval=interval)
    for epoch in range(5):  # the clock runs across epochs
        progress.start(100, 0, f"epoch {epoch + 1}/5")
        for _ in range(100):
            progress.update(1, values)
        progress.bar.refresh()
        progress.close()
    assert len(calls) == asked  # every step, or once an hour
    assert terminal.getvalue().count(f"loss={0.25 * asked:.4g}, acc=0.875, lr=0.001") >= (5 if asked == 1 else 1)
    assert progress.bar is None


def test_no_progress_bar_off_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    progress = Progress(True)
    progress.start(10, 0, "epoch 1/1")
    progress.update(1, lambda: pytest.fail("values asked for with no bar"))
    assert progress.bar is None
