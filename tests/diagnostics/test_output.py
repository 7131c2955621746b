"""What leaves the process: the records file, the table, the pictures, and the trainer callback."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab.diagnostics import (
    Diagnostics,
    LayerRecord,
    format_layer_summary,
    layer_summary,
    read_records,
    records_to_csv,
)
from cnnlab.diagnostics.plots import default_steps, grad_grid, plot_grad_depth, plot_grad_heatmap, plot_units
from cnnlab.engine import DiagnosticsCallback, TrainState
from cnnlab.errors import ConfigError

PAGE = (Path(__file__).parents[2] / "docs" / "diagnostics.md").read_text(encoding="utf-8")


@pytest.fixture
def diag(digits, loop) -> Diagnostics:
    model = cnnlab.create("mlp", depth=3, width=16, act="sigmoid", input_size=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Diagnostics(model, optimizer, every=2) as diag:
        loop(model, optimizer, digits, 5)
    return diag


def _same(a: LayerRecord, b: LayerRecord) -> bool:
    pairs = zip(vars(a).values(), vars(b).values(), strict=True)
    return all(x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)) for x, y in pairs)


def test_csv_round_trip_is_exact_including_none_inf_and_nan(tmp_path):
    records = [
        LayerRecord(
            0, "fc", "Linear", 0, grad_norm=0.1 + 0.2, weight_norm=1e-300, update_ratio=math.nan, act_mean=-1.5
        ),
        LayerRecord(0, "act, 'quoted'", "ReLU", 1, act_mean=0.0, act_std=2.0, dead_fraction=1 / 3),
        LayerRecord(10, "fc", "Linear", 0, grad_norm=math.inf, weight_norm=3.0, update_ratio=0.5),
    ]
    path = tmp_path / "records.csv"
    path.write_text(records_to_csv(records), encoding="utf-8")
    back = read_records(path)
    assert len(back) == 3 and all(_same(a, b) for a, b in zip(records, back, strict=True))


def test_read_records_refuses_other_files(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a diagnostics records file"):
        read_records(other)
    with pytest.raises(ConfigError, match="cannot read"):
        read_records(tmp_path / "missing.csv")


def test_save_writes_every_file_and_the_csv_reads_back_as_the_records(diag, tmp_path):
    paths = diag.save(tmp_path / "run")
    out = tmp_path / "run" / "diagnostics"
    names = ["records.csv", "findings.json", "summary.txt", "grad_heatmap.png", "grad_depth.png", "units.png"]
    assert [p.name for p in paths] == names
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no temporary file left behind
    assert all(_same(a, b) for a, b in zip(diag.records, read_records(out / "records.csv"), strict=True))
    assert len(diag.records) == 3 * 7  # 3 sampled steps × (3 fc + 3 sigmoid + head)
    assert json.loads((out / "findings.json").read_text()) == [f.to_dict() for f in diag.findings()]
    assert (out / "summary.txt").read_text() == diag.report() + "\n"
    for name in names[3:]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_save_into_a_file_is_a_config_error(diag, tmp_path):
    blocker = tmp_path / "run"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot create the diagnostics folder"):
        diag.save(blocker)


def test_summary_rows_follow_forward_order_with_first_and_last_gradient(diag):
    rows = layer_summary(diag.records)
    assert [r.layer for r in rows] == [r.layer for r in diag.records if r.step == 0]
    fc = next(r for r in rows if r.layer == "features.1.fc")
    grads = [r.grad_norm for r in diag.records if r.layer == "features.1.fc"]
    ratios = sorted(r.update_ratio for r in diag.records if r.layer == "features.1.fc")
    assert (fc.grad_norm_first, fc.grad_norm_last, fc.update_ratio_median) == (grads[0], grads[-1], ratios[1])
    act = next(r for r in rows if r.layer == "features.3.act")
    last = [r for r in diag.records if r.layer == "features.3.act"][-1]
    assert (act.act_mean_last, act.saturated_fraction_last, act.grad_norm_first) == (
        last.act_mean,
        last.saturated_fraction,
        None,
    )
    table = format_layer_summary(rows).splitlines()
    header = ["layer", "type", "grad first", "grad last", "update/w", "act mean", "act std", "dead", "neg", "sat"]
    assert re.split(r"\s{2,}", table[0]) == header
    assert len(table) == 2 + len(rows) and table[2].startswith("features.1.fc ")
    assert f"{fc.grad_norm_first:.2e}" in table[2]


def test_heatmap_shows_log10_gradient_norm_per_layer_and_step(diag):
    layers, steps, grid = grad_grid(diag.records)
    assert layers == ["features.1.fc", "features.2.fc", "features.3.fc", "head.fc"] and steps == [0, 2, 4]
    for r in diag.records:
        if r.grad_norm is not None:
            assert grid[layers.index(r.layer), steps.index(r.step)] == math.log10(r.grad_norm)
    image = plot_grad_heatmap(diag.records).axes[0].images[0]
    np.testing.assert_array_equal(image.get_array(), grid)


def test_depth_plot_draws_chosen_steps_and_units_plot_one_line_per_activation(diag):
    assert default_steps([0, 10, 20, 30, 40, 50, 60]) == [0, 20, 40, 60]
    lines = plot_grad_depth(diag.records, steps=[2]).axes[0].lines
    assert len(lines) == 1 and lines[0].get_label() == "step 2"
    np.testing.assert_allclose(
        lines[0].get_ydata(), [r.grad_norm for r in diag.records if r.step == 2 and r.grad_norm is not None]
    )
    dead_axes, sat_axes = plot_units(diag.records).axes[:2]
    assert not dead_axes.lines and "no ReLU layers" in dead_axes.texts[0].get_text()
    assert [line.get_label() for line in sat_axes.lines] == ["features.1.act", "features.2.act", "features.3.act"]


def test_callback_attaches_on_rank_zero_tells_new_warnings_and_saves(digits, loop, tmp_path):
    model = cnnlab.create("mlp", depth=20, act="sigmoid", input_size=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    said: list[str] = []
    callback = DiagnosticsCallback(every=1, out=said.append)
    state = TrainState(model=model, optimizer=optimizer, run_dir=tmp_path)
    callback.on_train_start(state)
    for epoch in range(2):
        loop(model, optimizer, digits, 2)
        state.step += 2
        state.epoch = epoch + 1
        callback.on_epoch_end(state)
    callback.on_train_end(state)
    assert len(said) == 1 and said[0].startswith("warning: vanishing:")  # told once, not again at the end
    assert sorted({r.step for r in callback.diagnostics.records}) == [0, 1, 2, 3]
    assert (tmp_path / "diagnostics" / "records.csv").exists()
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0

    other = DiagnosticsCallback(every=1, out=said.append)
    rank1 = TrainState(model=model, optimizer=optimizer, run_dir=tmp_path / "rank1", is_main=False)
    other.on_train_start(rank1)
    loop(model, optimizer, digits, 1)
    other.on_train_end(rank1)
    assert other.diagnostics is None and not (tmp_path / "rank1").exists() and len(said) == 1


def test_docs_diagnostics_example_runs_and_prints_what_the_page_shows(tmp_path, monkeypatch, capsys):
    example = re.search(r"```python\n(# Diagnostics.*?)```\s*```text\n(.*?)```", PAGE, re.S)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example.group(1), "docs/diagnostics.md", "exec"), namespace)  # the page's own example, nothing else
    printed = capsys.readouterr().out.splitlines()
    for line in example.group(2).splitlines():
        if line != "...":
            assert line in printed, line
    assert {f.code for f in namespace["diag"].findings()} == {"vanishing"}
    assert (tmp_path / "runs" / "sigmoid20" / "diagnostics" / "grad_heatmap.png").exists()


def test_matplotlib_is_imported_only_to_draw():
    code = "import sys, cnnlab.diagnostics; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
