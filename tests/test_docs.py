"""The docs' examples are real: README.md's tour and docs/models.md's tour run, the transcripts are what the CLI
prints, and every relative link points at a file (and heading) that exists."""

import contextlib
import io
import re
from pathlib import Path

import pytest
import torch

from cnnlab.cli import main
from cnnlab.errors import ShapeError

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MODELS = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
PAGES = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_readme_tour_runs_and_its_comments_are_true():
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    namespace: dict = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: threads would only contend
    try:
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            exec(compile(code, "README.md", "exec"), namespace)  # the README's own example, nothing else
    finally:
        torch.set_num_threads(threads)
    assert "269,722 parameters, 40,551,040 MACs" in printed.getvalue().splitlines()
    result = namespace["result"]
    assert result.run_dir is None and result.model is not None and 0 <= result.test_accuracy <= 1
    assert len(namespace["digits"]) == 1442
    a, b = torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 3.0, 3.0]])
    assert float(namespace["box_iou"](a, b)[0, 0]) == pytest.approx(1 / 7)
    assert round(namespace["precision_recall_f1"]([0, 1, 1, 2], [0, 1, 2, 2]).macro_f1, 3) == 0.778


def test_models_tour_runs_and_ends_in_the_documented_shape_error():
    code = re.search(r"```python\n(.*?)```", MODELS, re.S).group(1)
    with pytest.raises(ShapeError) as info:
        exec(compile(code, "docs/models.md", "exec"), {})  # the page's own example, nothing else
    tail = code.split("# ShapeError: ", 1)[1]
    expected = " ".join(line.lstrip("# ").strip() for line in tail.splitlines())
    assert str(info.value) == expected


def test_bottleneck_transcript_matches(capsys):
    block = re.search(r"\$ (cnnlab summary bottleneck .*?)\n(.*?)```", MODELS, re.S)
    argv = block.group(1).split()[1:]
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    for line in block.group(2).splitlines():
        if line and line != "...":
            assert line in printed, line


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_error_transcripts_match(page, capsys):
    for argv, expected in re.findall(
        r"```console\n\$ (cnnlab \S+ \S+)\n(cnnlab .*?: error: .*?)\n```", page.read_text()
    ):
        assert main(argv.split()[1:]) == 2
        assert capsys.readouterr().err.strip() == expected


def _anchor(heading: str) -> str:
    """GitHub's id for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_existing_files_and_headings(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # no links inside code
    for target in re.findall(r"\]\(([^)]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target}"
        if anchor and linked.suffix == ".md":
            prose = re.sub(r"```.*?```", "", linked.read_text(encoding="utf-8"), flags=re.S)
            headings = re.findall(r"^#+ (.+)$", prose, re.M)
            assert anchor in {_anchor(h) for h in headings}, f"{page.name}: {target}"
