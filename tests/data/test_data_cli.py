import json

import pytest
import torch
from PIL import Image

from cnnlab.cli import main
from cnnlab.data import list_datasets, load_dataset, render_grid
from cnnlab.data.grid import CAPTION, GAP, PALETTE
from cnnlab.errors import ConfigError


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_data_list(capsys):
    code, out, _ = run(capsys, "data", "list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:]] == list_datasets()
    code, out, _ = run(capsys, "data", "list", "--json")
    rows = json.loads(out)
    assert rows[list_datasets().index("shapes")]["tasks"] == ["classification", "multilabel", "detection"]


def test_show_draws_a_grid_with_labels(capsys, tmp_path):
    out_png = tmp_path / "grid.png"
    code, out, _ = run(capsys, "data", "show", "digits", "--split", "test", "--n", "6", "--out", str(out_png))
    assert code == 0 and "digits/test: 355 images" in out and str(out_png) in out
    grid = Image.open(out_png).convert("RGB")
    scale = 96 // 8  # 8×8 digits drawn at 12× in 96-pixel cells, 3 columns (⌈√6⌉), 2 rows
    assert grid.size == (3 * (96 + GAP) + GAP, 2 * (96 + CAPTION + GAP) + GAP)
    first = load_dataset("digits", "test").images[0, 0]
    for y in range(8):
        for x in range(8):
            level = round(first[y, x].item() * 255)
            assert grid.getpixel((GAP + x * scale + 5, GAP + y * scale + 5)) == (level, level, level)


def test_grid_draws_boxes_in_class_colours():
    image = render_grid([torch.zeros(3, 10, 10)], ["x"], [[((2, 3, 6, 8), 1, "")]], cell=20)
    scale = 2
    x0, y0, x1, y1 = GAP + 2 * scale, GAP + 3 * scale, GAP + 6 * scale - 1, GAP + 8 * scale - 1
    assert image.getpixel((x0, y0)) == PALETTE[1] and image.getpixel((x1, y1)) == PALETTE[1]
    assert image.getpixel((x0 + 2, y0 + 2)) == (0, 0, 0)  # the inside is the image


def test_export_detection_as_coco(capsys, tmp_path):
    out_dir = tmp_path / "coco"
    argv = ["data", "export", "shapes", "--task", "detection", "--kw", "n_train=6", "--out", str(out_dir)]
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "wrote 6 images" in out
    coco = json.loads((out_dir / "annotations.json").read_text())
    assert len(coco["images"]) == 6 and len(list((out_dir / "images").iterdir())) == 6
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "already exists and is not an empty folder" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "show", "shapez"], "cnnlab data show: error: unknown dataset 'shapez'; did you mean 'shapes'?"),
        (["data", "show", "shapes", "--kw", "difficulty=2"], "difficulty must lie in [0, 1], got 2"),
        (
            ["data", "show", "mnist", "--root", "/nowhere"],
            "(or train-images-idx3-ubyte) not found",
        ),
    ],
)
def test_errors_are_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err


@pytest.mark.parametrize("command", [["data"], ["data", "list"], ["data", "show"], ["data", "export"]])
def test_help_is_available(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: cnnlab data" in capsys.readouterr().out


def test_debug_shows_the_traceback():
    with pytest.raises(ConfigError, match="unknown dataset 'shapez'"):
        main(["data", "show", "shapez", "--debug"])
