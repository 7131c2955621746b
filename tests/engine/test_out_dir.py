"""A new run never writes into something that is not its own: --out is checked before any work."""

import pytest

from cnnlab.cli import main

TINY = ["train", "mlp", "--data", "digits", "--epochs", "1", "--kw", "depth=1"]


def test_a_folder_of_other_files_is_refused_and_left_alone(tmp_path, capsys):
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "config.json").write_text('{"mine": 1}')
    assert main([*TINY, "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not empty and holds no cnnlab run" in err
    assert (folder / "config.json").read_text() == '{"mine": 1}' and len(list(folder.iterdir())) == 1


@pytest.mark.parametrize("engine", ["torch", "scratch"])
def test_a_file_or_a_path_below_a_file_is_one_line_before_the_data_loads(tmp_path, capsys, engine):
    target = tmp_path / "file.txt"
    target.write_text("x")
    # mnist from a folder that does not exist: had the data been loaded first, this would be the error
    late = ["--data", "mnist", "--data-dir", str(tmp_path / "nowhere"), "--engine", engine]
    assert main([*TINY, *late, "--out", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main([*TINY, *late, "--out", str(target / "run")]) == 2
    assert "lies below the file" in capsys.readouterr().err
    assert target.read_text() == "x"


def test_an_empty_folder_is_fine(tmp_path):
    (tmp_path / "empty").mkdir()
    assert main([*TINY, "--out", str(tmp_path / "empty")]) == 0
    assert (tmp_path / "empty" / "metrics.json").exists()
