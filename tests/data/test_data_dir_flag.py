"""One name for one thing: the folder of a data set's files is --data-dir and a data set's keywords --data-kw in
every command (train, eval, study, data show, data export); data's former --root and --kw still work, hidden from
--help."""

import pytest
from PIL import Image

from cnnlab.cli import main


@pytest.fixture
def image_folder(tmp_path):
    """Two classes of two 4×4 images each, one colour per class."""
    for name, colour in (("a", (255, 0, 0)), ("b", (0, 0, 255))):
        (tmp_path / "f" / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (4, 4), colour).save(tmp_path / "f" / name / f"{i}.png")
    return tmp_path / "f"


@pytest.mark.parametrize("action", ["show", "export"])
def test_data_dir_and_its_hidden_alias_root_read_the_same_folder(capsys, tmp_path, image_folder, action):
    outputs = []
    for flag in ("--data-dir", "--root"):
        target = tmp_path / f"out{flag}{'.png' if action == 'show' else ''}"
        argv = ["data", action, "folder", "--split", "all", flag, str(image_folder), "--out", str(target)]
        assert main(argv) == 0
        outputs.append(capsys.readouterr().out.replace(str(target), "TARGET"))
        assert target.exists()
    assert outputs[0] == outputs[1]
    expected = "f/all: 4 images\ninput: 3×4×4\nper class: a 2, b 2" if action == "show" else "wrote 4 images"
    assert expected in outputs[0]


@pytest.mark.parametrize("action", ["show", "export"])
def test_help_names_data_dir_only(capsys, action):
    with pytest.raises(SystemExit) as stop:
        main(["data", action, "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "--data-dir DIR" in text and "--root" not in text
    assert "--data-kw KEY=VALUE" in text and "--kw" not in text


def test_data_kw_and_its_hidden_alias_kw_give_the_same_data(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outputs = []
    for flag in ("--data-kw", "--kw"):
        assert main(["data", "show", "shapes", "--split", "test", flag, "n_test=7", flag, "difficulty=0.5"]) == 0
        outputs.append(capsys.readouterr().out)
    # Without --out the grid goes to a new file: shapes.png, then shapes-2.png; the first is never overwritten.
    assert outputs[0].replace("shapes.png", "GRID") == outputs[1].replace("shapes-2.png", "GRID")
    assert "7 images" in outputs[0] and (tmp_path / "shapes.png").is_file() and (tmp_path / "shapes-2.png").is_file()


def test_an_existing_picture_file_is_refused_before_any_work(capsys, tmp_path):
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"the user's own file")
    assert main(["data", "show", "digits", "--out", str(mine)]) == 2
    expected = f"cnnlab data show: error: --out {mine} already exists; remove it or name a new file\n"
    assert capsys.readouterr().err == expected
    assert main(["map", "gt.json", "dets.json", "--plot", str(mine)]) == 2  # refused before the files are read
    assert "--plot" in capsys.readouterr().err and mine.read_bytes() == b"the user's own file"
