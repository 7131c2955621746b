"""The README's examples are real: its Python tour runs and its CLI transcript is what the CLI prints."""

import re
from pathlib import Path

import pytest

from cnnlab.cli import main
from cnnlab.errors import ShapeError

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_python_tour_runs_and_ends_in_the_documented_shape_error():
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    with pytest.raises(ShapeError) as info:
        exec(compile(code, "README.md", "exec"), {})  # the README's own example, nothing else
    tail = code.split("# ShapeError: ", 1)[1]
    expected = " ".join(line.lstrip("# ").strip() for line in tail.splitlines())
    assert str(info.value) == expected


def test_bottleneck_transcript_matches(capsys):
    block = re.search(r"\$ (cnnlab summary bottleneck .*?)\n(.*?)```", README, re.S)
    argv = block.group(1).split()[1:]
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    for line in block.group(2).splitlines():
        if line and line != "...":
            assert line in printed, line
