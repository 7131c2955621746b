import errno
import gzip
import json
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from cnnlab.cli import main
from cnnlab.data import TensorLoader, list_datasets, load_dataset, render_grid
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
    argv = ["data", "export", "shapes", "--task", "detection", "--data-kw", "n_train=6", "--out", str(out_dir)]
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
        (["data", "show", "shapes", "--data-kw", "difficulty=2"], "difficulty must lie in [0, 1], got 2"),
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


# Hostile and broken files: each is one line on stderr, exit status 2, and nothing written.


def png_declaring(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header declares width×height RGB pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def refused(capsys, argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out, err.count("\n")) == (2, "", 1), err
    assert err.startswith(f"cnnlab data {argv[1]}: error: ") and message in err


def coco_root(tmp_path: Path, coco: object) -> Path:
    root = tmp_path / "coco"
    (root / "images").mkdir(parents=True)
    Image.new("RGB", (8, 6), (200, 10, 10)).save(root / "images" / "a.png")
    text = coco if isinstance(coco, str) else json.dumps(coco)
    (root / "annotations.json").write_text(text)
    return root


def coco_with(**changes) -> dict:
    image = {"id": 1, "file_name": "a.png", "width": 8, "height": 6, **changes.get("image", {})}
    ann = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 3], **changes.get("ann", {})}
    return {"images": [image], "annotations": [ann], "categories": [{"id": 1, "name": "dog"}]}


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("coco", "message"),
    [
        ("[" * 200_000 + "]" * 200_000, "annotations.json' nests its JSON too deeply to read"),
        ("", "annotations.json' is not valid JSON"),
        ({"images": [], "annotations": [], "categories": []}, "'images' is empty; a data set needs at least one"),
        (coco_with(image={"file_name": 5}), "ground truth images[0] has file_name 5; it must be a path relative"),
        (coco_with(ann={"image_id": [1]}), "ground truth annotations[0] has image_id [1], a list; ids must be"),
        (coco_with(ann={"bbox": [10, 10, NAN, 20]}), "annotations[0] has bbox [10.0, 10.0, nan, 20.0] with a NaN"),
        (coco_with(ann={"bbox": [10, 10, INF, 20]}), "annotations[0] has bbox [10.0, 10.0, inf, 20.0] with a NaN"),
        (coco_with(ann={"bbox": [10, 10, 1e300, 20]}), "20.0] with a coordinate beyond ±16,777,216"),
        (coco_with(ann={"bbox": [1, 1, -2, 3]}), "annotations[0] has bbox [1.0, 1.0, -2.0, 3.0] with a negative"),
        (coco_with(ann={"bbox": "1 1 2 3"}), "annotations[0] has bbox '1 1 2 3'; it must be [x, y, width, height]"),
        (coco_with(image={"file_name": "../../../x.png"}), "file_name '../../../x.png', which leads outside"),
    ],
)
@pytest.mark.parametrize("action", ["show", "export"])
def test_bad_coco_files_are_one_line_and_write_nothing(capsys, tmp_path, coco, message, action):
    root = coco_root(tmp_path, coco)
    out = tmp_path / "out"
    target = ["--out", str(out / "grid.png")] if action == "show" else ["--out", str(out)]
    refused(capsys, ["data", action, "coco", "--root", str(root), *target], message)
    assert not out.exists()


def test_a_coco_file_name_must_stay_inside_the_folder_even_when_the_file_exists(capsys, tmp_path):
    root = coco_root(tmp_path, coco_with(image={"file_name": "../outside.png"}))
    Image.new("RGB", (8, 6)).save(root / "outside.png")  # root/images/../outside.png exists
    refused(capsys, ["data", "show", "coco", "--root", str(root), "--out", str(tmp_path / "g.png")],
            "file_name '../outside.png', which leads outside the image folder")  # fmt: skip
    assert not (tmp_path / "g.png").exists()


def write_idx(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    for stem, array in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
        (root / f"{stem}.gz").write_bytes(gzip.compress(header + array.tobytes()))


@pytest.mark.parametrize(
    ("shape", "message"),
    [((0, 28, 28), "holds 0 images of 28×28 pixels; a data set needs at least one image"),
     ((3, 0, 0), "holds 3 images of 0×0 pixels; a data set needs at least one image of at least 1×1")],
)  # fmt: skip
def test_idx_files_without_pixels(capsys, tmp_path, shape, message):
    write_idx(tmp_path, np.zeros(shape, np.uint8), np.zeros(shape[0], np.uint8))
    refused(capsys, ["data", "show", "mnist", "--split", "test", "--root", str(tmp_path),
                     "--out", str(tmp_path / "g.png")], message)  # fmt: skip
    assert not (tmp_path / "g.png").exists()


# Pillow refuses 30,000² pixels outright, but only warns (two lines on stderr) for 10,000² and then decodes them
# (300 MB, 1.3 GB as floats); warnings are errors here, so a warning or a decode fails the test.
@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("side", [30_000, 10_000])
def test_an_image_folder_with_a_decompression_bomb(capsys, tmp_path, monkeypatch, side):
    for c in ("a", "b"):
        (tmp_path / "f" / c).mkdir(parents=True)
        Image.new("RGB", (4, 4), (10, 20, 30)).save(tmp_path / "f" / c / "1.png")
    bomb = tmp_path / "f" / "b" / "2.png"
    bomb.write_bytes(png_declaring(side, side))
    assert len(bomb.read_bytes()) < 500
    decoded = []
    load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda im: decoded.append(im.size) or load(im))
    refused(capsys, ["data", "show", "folder", "--split", "all", "--root", str(tmp_path / "f"),
                     "--out", str(tmp_path / "g.png")],
            f"{bomb}: refusing to decode it: Image size ({side * side} pixels) exceeds limit of")  # fmt: skip
    assert (side, side) not in decoded  # refused from its header
    assert not (tmp_path / "g.png").exists()


def _full_after(n: int, write):
    """`write` that fills the disk on its n-th call, leaving a partial file behind as a real full disk does."""
    calls = []

    def full(path, image):
        calls.append(path)
        if len(calls) == n:
            Path(path).write_bytes(b"\x89PNG partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write(path, image)

    return full


SMALL_SHAPES = ["--data-kw", "n_train=64", "--data-kw", "n_test=16"]  # the statistics come from the train split


@pytest.mark.parametrize(("name", "module", "flags"), [("shapes", "coco", ["--task", "detection", *SMALL_SHAPES]),
                                                       ("digits", "folder", [])])  # fmt: skip
def test_a_full_disk_during_export_is_one_line_and_writes_nothing(capsys, tmp_path, monkeypatch, name, module, flags):
    import importlib

    writer = importlib.import_module(f"cnnlab.data.{module}")
    out = tmp_path / "out" / "export"
    argv = ["data", "export", name, *flags, "--split", "test", "--out", str(out)]
    monkeypatch.setattr(writer, "write_png", _full_after(3, writer.write_png))
    code, stdout, err = run(capsys, *argv)
    assert (code, stdout, err.count("\n")) == (4, "", 1), err
    assert err == (f"cnnlab data export: error: cannot write {out}: the disk is full; nothing of it was written; "
                   "make room, then run the command again\n")  # fmt: skip
    assert list((tmp_path / "out").iterdir()) == []  # no export, no temporary folder
    monkeypatch.undo()  # room again: the same command succeeds
    code, stdout, _ = run(capsys, *argv)
    assert code == 0 and "wrote" in stdout and out.is_dir()


def test_an_export_below_a_file_is_one_line(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    out = tmp_path / "notes.txt" / "export"
    refused(capsys, ["data", "export", "digits", "--split", "test", "--out", str(out)],
            f"cannot write {out}: File exists at {tmp_path / 'notes.txt'}; choose another output folder")  # fmt: skip
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_coco_box_wholly_outside_its_image_is_refused(capsys, tmp_path):
    # the image is 8 wide and 6 high: a box right of it, one below it and an empty one left of it are refused...
    for k, bbox in enumerate([[8, 1, 2, 3], [1, 6.5, 2, 3], [-1, 2, 0, 2]]):
        root = coco_root(tmp_path / str(k), coco_with(ann={"id": 41, "bbox": bbox}))
        refused(capsys, ["data", "show", "coco", "--root", str(root), "--out", str(tmp_path / "g.png")],
                f"annotation 41 (annotations[0]) has bbox {[float(v) for v in bbox]}, wholly outside its image 1, "
                "which is 8 pixels wide and 6 high; fix the box or remove the annotation")  # fmt: skip
    # ...and so is training on it, before a run folder is made
    code, _, err = run(capsys, "train", "tinydet", "--data", "coco", "--data-dir", str(root), "--epochs", "1",
                       "--out", str(tmp_path / "run"))  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "wholly outside its image 1" in err
    assert not (tmp_path / "run").exists()
    # a box partly inside, or an empty one on the edge, is kept (clipped where it is used)
    root = coco_root(tmp_path / "partly", coco_with(ann={"bbox": [6, 4, 5, 5]}))
    assert load_dataset("coco", root=root).boxes[0].tolist() == [[6.0, 4.0, 11.0, 9.0]]
    root = coco_root(tmp_path / "edge", coco_with(ann={"bbox": [8, 2, 0, 2]}))
    assert load_dataset("coco", root=root).boxes[0].tolist() == [[8.0, 2.0, 8.0, 4.0]]


def test_a_coco_set_without_annotations_is_refused_before_training(capsys, tmp_path):
    root = coco_root(tmp_path, {**coco_with(), "annotations": []})
    message = "annotations.json: 'annotations' is empty; a detection data set needs at least one box"
    refused(capsys, ["data", "show", "coco", "--root", str(root), "--out", str(tmp_path / "g.png")], message)
    code, _, err = run(capsys, "train", "tinydet", "--data", "coco", "--data-dir", str(root), "--epochs", "1",
                       "--out", str(tmp_path / "run"))  # fmt: skip
    assert (code, err.count("\n")) == (2, 1) and message in err  # not a NaN loss and an mAP of -1
    assert not (tmp_path / "run").exists() and not (tmp_path / "g.png").exists()


def test_a_folder_of_constant_colour_images_normalizes_to_finite_values(capsys, tmp_path):
    # Every image is the same red: no channel varies, so each std is 1 and normalizing only centres the pixels.
    for c in ("a", "b"):
        (tmp_path / "red" / c).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (4, 4), (255, 0, 0)).save(tmp_path / "red" / c / f"{i}.png")
    data = load_dataset("folder", "all", root=tmp_path / "red")
    assert data.std == (1.0, 1.0, 1.0) and data.mean == (1.0, 0.0, 0.0)
    batch = next(iter(TensorLoader(data, 6, shuffle=False)))
    assert torch.equal(batch.inputs, torch.zeros(6, 3, 4, 4))
    code, out, _ = run(capsys, "data", "show", "folder", "--split", "all", "--root", str(tmp_path / "red"),
                       "--out", str(tmp_path / "g.png"))  # fmt: skip
    assert code == 0 and "std (1.0000, 1.0000, 1.0000)" in out
    # One image in 7 with blue 51/255: blue keeps its own std, (51/255)·√(1/7 · 6/7); red and green stay 1.
    Image.new("RGB", (4, 4), (255, 0, 51)).save(tmp_path / "red" / "b" / "3.png")
    data = load_dataset("folder", "all", root=tmp_path / "red")
    blue = torch.tensor(51 / 255, dtype=torch.float32).item()  # the float32 value the image holds
    assert data.std[:2] == (1.0, 1.0) and data.std[2] == pytest.approx(blue * math.sqrt(6) / 7, rel=1e-9)


def test_a_grid_of_no_images_or_of_empty_images(tmp_path):
    from cnnlab.data import TensorDataset, save_grid
    from cnnlab.errors import DataError

    empty = TensorDataset(torch.zeros(0, 1, 4, 4), torch.zeros(0, dtype=torch.int64), ("a",), name="e/test")
    with pytest.raises(DataError, match=r"^e/test holds no images, so there is no grid to draw$"):
        save_grid(empty, tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()
    # A 0×0 image is an empty cell with its caption cut to "…" (no division by zero, no endless shortening).
    assert render_grid([torch.zeros(3, 0, 0)], ["caption"]).size == (GAP + GAP, CAPTION + GAP + GAP)
