"""docs/metrics.md's example runs and prints what its comments say."""

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

PAGE = (Path(__file__).parents[2] / "docs" / "metrics.md").read_text(encoding="utf-8")


def test_metrics_example_runs_and_its_comments_are_true():
    code = re.search(r"```python\n(.*?)```", PAGE, re.S).group(1)
    namespace = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(code, "docs/metrics.md", "exec"), namespace)  # the page's own example, nothing else
    result, report = namespace["result"], namespace["report"]
    assert printed.getvalue().count("Average Precision") == 6
    assert (result.AP, result.AP50, result.APm) == pytest.approx((0.9, 1.0, 0.9))
    assert result.precision.shape == (10, 101, 1, 4, 3)
    assert f"# {result.per_class[0]!r}" in code
    a, b = namespace["a"], namespace["b"]
    assert namespace["box_iou"](a, b)[0, 0] == pytest.approx(1 / 7)
    assert namespace["generalized_box_iou"](a, b)[0, 0] == pytest.approx(1 / 7 - 2 / 9)
    np.testing.assert_allclose(report.precision, [1, 1, 0.5])
    assert (round(report.macro_f1, 3), report.micro_f1) == (0.778, 0.75)
