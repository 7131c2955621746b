"""`cnnlab map`: pycocotools' table, JSON, per-class table, PR plot, and one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
from coco_cases import pycocotools_eval, random_coco

from cnnlab.cli import main


@pytest.fixture
def files(tmp_path):
    gt, dets = random_coco(9, images=30, categories=4)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    return gt, dets, str(tmp_path / "gt.json"), str(tmp_path / "dets.json")


def test_prints_pycocotools_summary(capsys, files):
    gt, dets, gt_path, dt_path = files
    assert main(["map", gt_path, dt_path]) == 0
    _, printed = pycocotools_eval(gt, dets)
    assert capsys.readouterr().out == printed


def test_json_and_per_class(capsys, files):
    gt, dets, gt_path, dt_path = files
    assert main(["map", gt_path, dt_path, "--json", "--per-class"]) == 0
    data = json.loads(capsys.readouterr().out)
    evaluator, _ = pycocotools_eval(gt, dets)
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    np.testing.assert_allclose([data[n] for n in names], evaluator.stats, rtol=0, atol=1e-12)
    assert [c["category_id"] for c in data["per_class"]] == sorted(c["id"] for c in gt["categories"])
    assert main(["map", gt_path, dt_path, "--per-class"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[13].split() == ["category", "AP", "AP50", "AP75", "gt", "dets"]
    assert len(table) == 14 + len(gt["categories"])


def test_plot_is_a_png(tmp_path, capsys, files):
    _, _, gt_path, dt_path = files
    out = tmp_path / "pr.png"
    assert main(["map", gt_path, dt_path, "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-dets", "1,10"], "expected three positive integers such as 1,10,100"),
        (["--plot", "pr.unknown"], "cannot write 'pr.unknown': choose a suffix among"),
    ],
)
def test_bad_options(capsys, files, extra, message):
    _, _, gt_path, dt_path = files
    try:
        code = main(["map", gt_path, dt_path, *extra])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_bad_detection_file_is_one_line_without_traceback(tmp_path, files):
    _, dets, gt_path, _ = files
    dets[3] = {**dets[3], "bbox": [0, 0, float("nan"), 1]}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dets))  # json writes NaN, which json.load reads back
    result = subprocess.run(
        [sys.executable, "-m", "cnnlab", "map", gt_path, str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("cnnlab map: error: detections[3] has bbox [0.0, 0.0, nan, 1.0] with a NaN")
    assert result.stderr.count("\n") == 1


def test_the_console_script_answers_map_without_importing_torch(tmp_path, files, capsys):
    """`cnnlab map` is answered by cnnlab.cli_core with no torch imported: the same parser, output and errors as
    the full command line (`cnnlab.cli.main`)."""
    from cnnlab.cli_core import main_torch_free

    _, _, gt_path, dt_path = files
    code = "import sys; from cnnlab.__main__ import main; status = main(); print('torch' in sys.modules, status)"
    ran = subprocess.run([sys.executable, "-c", code, "map", gt_path, dt_path, "--per-class"], capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert main(["map", gt_path, dt_path, "--per-class"]) == 0
    assert ran.stdout == capsys.readouterr().out + "False 0\n" and ran.stderr == ""
    for argv in (["map", "--help"], ["map", gt_path], ["map", gt_path, dt_path, "--max-dets", "1"]):
        said = []
        for run in (main, main_torch_free):
            with pytest.raises(SystemExit) as info:
                run(argv)
            said.append((info.value.code, capsys.readouterr()))
        assert said[0] == said[1] and said[0][0] in (0, 2), argv
    assert main_torch_free(["map", gt_path, str(tmp_path / "missing.json")]) == 2
    assert (
        capsys.readouterr().err
        == f"cnnlab map: error: cannot read detections file '{tmp_path / 'missing.json'}': No such file or directory\n"
    )


def test_metrics_never_import_torch():
    code = "import sys, cnnlab.metrics, cnnlab.metrics.plot; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["map", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: cnnlab map" in out and "--fix-zero-id" in out and "The numbers equal pycocotools" in out


def test_mean_pr_curve_averages_to_the_ap(files):
    from cnnlab.metrics import coco_evaluate
    from cnnlab.metrics.plot import mean_pr_curve

    gt, dets, _, _ = files
    result = coco_evaluate(gt, dets)
    assert np.mean(mean_pr_curve(result)) == pytest.approx(result.AP, abs=1e-12)
    assert np.mean(mean_pr_curve(result, 0.5)) == pytest.approx(result.AP50, abs=1e-12)
    assert np.mean(mean_pr_curve(result, 0.75, area=1)) == pytest.approx(
        np.mean(result.precision[5, :, :, 1, -1][result.precision[5, :, :, 1, -1] > -1]), abs=1e-12
    )


NESTED = "[" * 200_000 + "]" * 200_000  # json.load gives up with a RecursionError


@pytest.mark.parametrize(
    ("which", "content", "message"),
    [
        ("gt", NESTED, "ground truth file '{gt}' nests its JSON too deeply to read"),
        ("dets", NESTED, "detections file '{dets}' nests its JSON too deeply to read"),
        ("gt", "\xff", "ground truth file '{gt}' is not valid JSON"),
        ("dets", '[{"image_id": 1, "category_id": 1, "bbox": [1e300, 0, 1, 1], "score": 1}]',
         "detections[0] has bbox [1e+300, 0.0, 1.0, 1.0] with a coordinate beyond ±16,777,216"),
        ("gt", '{"images": [{"id": 1}], "categories": [], "annotations": [{"id": 1, "image_id": [1]}]}',
         "ground truth annotations[0] has image_id [1], a list; ids must be integers"),
    ],
)  # fmt: skip
def test_hostile_json_files_are_one_line(capsys, tmp_path, files, which, content, message):
    _, _, gt_path, dt_path = files
    bad = tmp_path / "bad.json"
    bad.write_bytes(content.encode("latin-1" if content == "\xff" else "utf-8"))
    paths = {"gt": gt_path, "dets": dt_path, which: str(bad)}
    assert main(["map", paths["gt"], paths["dets"]]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("cnnlab map: error: " + message.format(**paths)) and err.count("\n") == 1


def test_map_and_the_coco_data_set_refuse_the_same_files_with_the_same_words(capsys, tmp_path, files):
    """One validation (cnnlab/_coco.py) for both: duplicate image ids, and a score of JSON true, which is no number."""
    from PIL import Image

    gt, dets, gt_path, dt_path = files
    twice = {**gt, "images": [*gt["images"], gt["images"][0]]}
    n = len(gt["images"])
    said = f"ground truth images[{n}] and [0] share id {gt['images'][0]['id']}; ids must be unique"
    (tmp_path / "twice.json").write_text(json.dumps(twice))
    assert main(["map", str(tmp_path / "twice.json"), dt_path]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"cnnlab map: error: {said}\n"
    root = tmp_path / "coco"
    (root / "images").mkdir(parents=True)
    for image in twice["images"]:
        image["file_name"] = "a.png"
    Image.new("RGB", (8, 6)).save(root / "images" / "a.png")
    (root / "annotations.json").write_text(json.dumps(twice))
    assert main(["data", "show", "coco", "--data-dir", str(root), "--out", str(tmp_path / "g.png")]) == 2
    assert capsys.readouterr().err == f"cnnlab data show: error: {root / 'annotations.json'}: {said}\n"

    (tmp_path / "true.json").write_text(json.dumps([*dets[:2], {**dets[2], "score": True}]))
    assert main(["map", gt_path, str(tmp_path / "true.json")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "cnnlab map: error: detections[2] has score True; it must be a finite number\n"
