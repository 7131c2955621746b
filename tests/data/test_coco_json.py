import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from cnnlab.data import DetectionDataset, export_dataset, load_dataset
from cnnlab.data.coco import load_coco
from cnnlab.errors import DataError, ShapeError

SMALL = {"task": "detection", "n_train": 64, "n_test": 12}


def test_to_coco_fields():
    data = DetectionDataset(
        torch.zeros(2, 3, 10, 20),
        boxes=[torch.tensor([[1.0, 2.0, 5.0, 8.0]]), torch.zeros(0, 4)],
        labels=[torch.tensor([1]), torch.zeros(0, dtype=torch.int64)],
        classes=("a", "b"),
    )
    coco = data.to_coco()
    assert coco["images"] == [
        {"id": 1, "file_name": "000001.png", "width": 20, "height": 10},
        {"id": 2, "file_name": "000002.png", "width": 20, "height": 10},
    ]
    assert coco["annotations"] == [
        {"id": 1, "image_id": 1, "category_id": 2, "bbox": [1.0, 2.0, 4.0, 6.0], "area": 24.0, "iscrowd": 0}
    ]
    assert coco["categories"] == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]


def test_export_and_read_back_shapes(tmp_path):
    data = load_dataset("shapes", "test", **SMALL)
    export_dataset(data, tmp_path / "coco")
    assert sorted(p.name for p in (tmp_path / "coco").iterdir()) == ["annotations.json", "images"]
    back = load_dataset("coco", "test", root=tmp_path / "coco")
    assert torch.equal(back.images, data.images)  # 8-bit images survive PNG exactly
    assert all(torch.equal(a, b) for a, b in zip(back.boxes, data.boxes, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(back.labels, data.labels, strict=True))
    assert back.classes == data.classes
    assert back.to_coco() == json.loads((tmp_path / "coco" / "annotations.json").read_text())


def coco_dir(tmp_path: Path, coco: dict) -> Path:
    (tmp_path / "images").mkdir(exist_ok=True)
    for entry in coco.get("images", []):
        Image.new("RGB", (entry.get("width", 8), entry.get("height", 6))).save(tmp_path / "images" / entry["file_name"])
    (tmp_path / "annotations.json").write_text(json.dumps(coco))
    return tmp_path


def valid() -> dict:
    return {
        "images": [{"id": 7, "file_name": "a.png", "width": 8, "height": 6}],
        "annotations": [{"id": 3, "image_id": 7, "category_id": 18, "bbox": [1, 1, 2, 3], "iscrowd": 1}],
        "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}],
    }


def test_category_ids_are_kept(tmp_path):
    data = load_dataset("coco", root=coco_dir(tmp_path, valid()))
    assert data.classes == ("person", "dog") and data.category_ids == (1, 18)  # ascending id order
    assert data.labels[0].tolist() == [1] and data.boxes[0].tolist() == [[1.0, 1.0, 3.0, 4.0]]
    ann = data.to_coco()["annotations"][0]
    assert (ann["image_id"], ann["category_id"], ann["bbox"], ann["area"], ann["iscrowd"]) == (
        7,
        18,
        [1, 1, 2, 3],
        6,
        1,
    )


def broken(change) -> dict:
    coco = valid()
    change(coco)
    return coco


def ann(**fields) -> dict:
    return broken(lambda c: c["annotations"][0].update(fields))


def image(**fields) -> dict:
    return broken(lambda c: c["images"][0].update(fields))


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("coco", "message"),
    [
        (broken(lambda c: c.pop("categories")), "the ground truth has no 'categories' list"),
        (broken(lambda c: c["annotations"][0].pop("bbox")), "ground truth annotations[0] has no 'bbox': {"),
        (ann(image_id=8), "annotations[0] has image_id 8, which is not among 'images'"),
        (ann(category_id=2), "annotations[0] has category_id 2, which is not among 'categories'"),
        (ann(bbox=[1, 1, -2, 3]), "annotations[0] has bbox [1.0, 1.0, -2.0, 3.0] with a negative width or height"),
        (ann(bbox=[1, 1, 2]), "annotations[0] has bbox [1, 1, 2]; it must be [x, y, width, height]"),
        (ann(bbox=[1, 1, "2", 3]), "annotations[0] has bbox [1, 1, '2', 3]; it must be"),
        (ann(bbox=[10, 10, NAN, 20]), "annotations[0] has bbox [10.0, 10.0, nan, 20.0] with a NaN or infinite"),
        (ann(bbox=[10, 10, INF, 20]), "annotations[0] has bbox [10.0, 10.0, inf, 20.0] with a NaN or infinite"),
        (ann(bbox=[1e300, 10, 1, 20]), "bbox [1e+300, 10.0, 1.0, 20.0] with a coordinate beyond ±16,777,216"),
        (ann(image_id=[7]), "annotations[0] has image_id [7], a list; ids must be integers"),
        (ann(iscrowd="yes"), "annotations[0] has iscrowd 'yes'; it must be a finite number"),
        (ann(area=NAN), "annotations[0] has area nan; it must be a finite number"),
        (broken(lambda c: c["categories"].append({"id": 1, "name": "x"})), "categories[2] and [1] share id 1"),
        (broken(lambda c: c["categories"][0].update(name={"a": 1})), "name {'a': 1}; it must be a string"),
        (broken(lambda c: c["images"][0].pop("file_name")), "ground truth images[0] has no 'file_name'"),
        (image(file_name=5), "ground truth images[0] has file_name 5; it must be a path"),
        (image(file_name="../../../x.png"), "file_name '../../../x.png', which leads outside the image folder"),
        (image(file_name="/etc/x.png"), "images[0] has file_name '/etc/x.png', which leads outside"),
        (image(file_name="C:\\x.png"), "which leads outside the image folder"),
        (image(width="8"), "images[0] has width '8'; it must be a positive whole number"),
        (broken(lambda c: c["images"].append(dict(c["images"][0]))), "ground truth images[1] and [0] share id 7"),
        (broken(lambda c: c.update(images={})), "the ground truth has no 'images' list"),
        ({"images": [], "annotations": [], "categories": []}, "'images' is empty; a data set needs at least one"),
        ([1, 2], "the ground truth must be a JSON object with 'images', got a list"),
    ],
)
def test_invalid_coco_json(tmp_path, coco, message):
    root = coco_dir(tmp_path, {"images": [{"id": 7, "file_name": "a.png", "width": 8, "height": 6}]})
    (root / "annotations.json").write_text(json.dumps(coco))
    with pytest.raises(DataError) as info:
        load_dataset("coco", root=root)
    assert str(info.value).startswith(f"{root / 'annotations.json'}: ") and message in str(info.value)


def test_bad_files(tmp_path):
    root = coco_dir(tmp_path, valid())
    Image.new("RGB", (5, 5)).save(root / "images" / "a.png")
    with pytest.raises(DataError, match=r"a\.png is 5×5 pixels; .* declares 6×8"):
        load_dataset("coco", root=root)
    (root / "images" / "a.png").unlink()
    with pytest.raises(DataError, match=r"image 7 is .*a\.png, which does not exist"):
        load_dataset("coco", root=root)
    (root / "annotations.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_coco(root / "annotations.json")
    with pytest.raises(DataError, match="not found"):
        load_coco(root / "missing.json")


def test_dataset_checks_its_boxes():
    with pytest.raises(ShapeError, match="x1 < x0"):
        DetectionDataset(torch.zeros(1, 3, 4, 4), [torch.tensor([[3.0, 0, 1, 2]])], [torch.tensor([0])], ("a",))
    with pytest.raises(ShapeError, match=r"label outside 0\.\.0"):
        DetectionDataset(torch.zeros(1, 3, 4, 4), [torch.tensor([[0.0, 0, 1, 2]])], [torch.tensor([1])], ("a",))
