"""The report in a real browser: headless Chromium renders it, and the rendered DOM is checked.

The report itself holds no script. The test renders a copy with a probe appended that records, after the page
has loaded, each image's natural width, the verdict table's rows and whether the page fits a phone-wide window
without scrolling sideways. Where no Chromium can be had, the test skips and says why (.ci/run installs Debian's).
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from _toy_study import make

from cnnlab.studies import Verdict, _registry, run_study
from cnnlab.studies.report import write_report

PROBE = """<script>
window.addEventListener("load", () => {
  const probe = {
    widths: [...document.images].map((img) => img.naturalWidth),
    verdictRows: document.querySelectorAll("#verdicts + .scroll table tbody tr").length,
    sections: document.querySelectorAll("section.study").length,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
  };
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(probe);
  document.body.appendChild(out);
});
</script>
</body>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine (Debian: apt-get install chromium); .ci/run installs it")


def browse(page: Path, tmp_path: Path, *args: str, width: int = 1200) -> subprocess.CompletedProcess:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},1600", "--virtual-time-budget=5000",
    ]  # fmt: skip
    return subprocess.run([chromium(), *flags, *args, page.as_uri()], capture_output=True, text=True, timeout=120)


def figure(results):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    for i, arm in enumerate(results.arms):
        ax.plot([i] * len(results.seeds), results.values(arm, "score"), "o")
    ax.set_xlabel("arm")
    ax.set_ylabel("score")
    return [fig, fig]  # two images


@pytest.fixture
def report(tmp_path, monkeypatch):
    monkeypatch.setitem(_registry._STUDIES, "toy", make(figure=figure))
    result = run_study("toy")
    second = run_study("toy")
    second = type(second)(**{**second.__dict__, "verdict": Verdict("refuted", "a long sentence " * 20, "−1")})
    return write_report([result, second], tmp_path / "report.html")


@pytest.mark.parametrize("width", [1200, 390])  # a desktop and a phone
def test_report_renders_in_chromium(report, tmp_path, width):
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8")
    done = browse(probe_page, tmp_path, "--dump-dom", width=width)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, "the page did not finish loading: " + done.stdout[-500:]
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert probe["verdictRows"] == 2 and probe["sections"] == 2
    assert len(probe["widths"]) == 4 and all(w > 0 for w in probe["widths"])
    assert probe["overflow"] <= 0, f"the page scrolls sideways by {probe['overflow']} px at width {width}"


def test_report_screenshot_is_not_blank(report, tmp_path):
    shot = tmp_path / "shot.png"
    done = browse(report, tmp_path, f"--screenshot={shot}")
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    low, high = pixels.getextrema()
    assert pixels.size == (1200, 1600) and high - low > 200  # text and figures, not an empty page
