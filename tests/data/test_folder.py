from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.data import ImageFolder, TensorDataset, channel_stats, export_dataset, load_dataset
from cnnlab.errors import ConfigError, DataError


def make_folder(root: Path, per_class=(5, 4), size=(6, 7), ext=".png") -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    written = {}
    for name, n in zip(("cat", "dog", "emu"), per_class, strict=False):
        (root / name).mkdir(parents=True)
        written[name] = []
        for i in range(n):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:03d}{ext}")
            written[name].append(pixels)
    return written


def pixels(data: TensorDataset) -> set[tuple]:
    return {tuple(x.flatten().tolist()) for x in data.images}


def test_fixed_split_and_exact_pixels(tmp_path):
    written = make_folder(tmp_path, per_class=(5, 10))
    train = load_dataset("folder", "train", root=tmp_path)
    test = load_dataset("folder", "test", root=tmp_path)
    every = load_dataset("folder", "all", root=tmp_path)
    assert isinstance(train, TensorDataset) and train.classes == ("cat", "dog")
    assert (len(train), len(test), len(every)) == (12, 3, 15)  # ⌊5·0.2⌋ = 1 and ⌊10·0.2⌋ = 2 test images
    assert torch.bincount(test.targets).tolist() == [1, 2]
    assert every.input_size == (3, 6, 7)
    first = torch.from_numpy(written["cat"][0]).permute(2, 0, 1).float() / 255
    assert torch.equal(every.images[0], first)
    # train and test are disjoint and together make up the folder
    assert pixels(train) | pixels(test) == pixels(every) and not pixels(train) & pixels(test)
    assert test.mean == train.mean == channel_stats(train.images)[0]
    assert torch.equal(load_dataset("folder", "test", root=tmp_path).images, test.images)  # fixed, not random


def test_split_folders_grayscale_and_resize(tmp_path):
    make_folder(tmp_path / "train")
    make_folder(tmp_path / "val", per_class=(1, 2))
    val = load_dataset("folder", "val", root=tmp_path, grayscale=True, size=4)
    assert val.images.shape == (3, 1, 4, 4)
    assert val.mean == load_dataset("folder", "train", root=tmp_path, grayscale=True, size=4).mean
    with pytest.raises(ConfigError, match="has split folders train, val; no 'test'"):
        load_dataset("folder", "test", root=tmp_path)
    make_folder(tmp_path / "test", per_class=(0, 2))  # no 'cat' images: 'dog' keeps its training id 1
    (tmp_path / "test" / "cat").rmdir()
    test = load_dataset("folder", "test", root=tmp_path)
    assert test.classes == ("cat", "dog") and test.targets.tolist() == [1, 1]
    (tmp_path / "test" / "yak").mkdir()
    Image.new("RGB", (7, 6)).save(tmp_path / "test" / "yak" / "0.png")
    with pytest.raises(DataError, match=r"has classes yak that .*train lacks"):
        load_dataset("folder", "test", root=tmp_path)


def test_lazy_folder_reads_the_same_images(tmp_path):
    make_folder(tmp_path)
    eager = load_dataset("folder", "all", root=tmp_path, lazy=False)
    lazy = load_dataset("folder", "all", root=tmp_path, lazy=True)
    assert isinstance(lazy, ImageFolder) and len(lazy) == 9 and lazy.input_size == (3, 6, 7)
    for i in range(len(lazy)):
        image, label = lazy[i]
        assert image.dtype == torch.uint8 and label == int(eager.targets[i])
        assert torch.equal(image.float() / 255, eager.images[i])
    assert lazy.mean == pytest.approx(eager.mean, abs=1e-12)  # 9 images: the estimate uses all of them


def test_export_round_trip_through_a_folder(tmp_path):
    shapes = load_dataset("shapes", "test", n_train=200, n_test=40)
    export_dataset(shapes, tmp_path / "out")
    back = load_dataset("folder", "all", root=tmp_path / "out")
    assert len(back) == 40 and back.classes == tuple(sorted(set(back.classes)))  # classes ordered by name
    for k, name in enumerate(shapes.classes):
        ours = shapes.images[shapes.targets == k]
        theirs = back.images[back.targets == back.classes.index(name)] if name in back.classes else ours[:0]
        assert torch.equal(ours, theirs)  # lossless PNG, file order kept within a class
    with pytest.raises(DataError, match="already exists and is not an empty folder"):
        export_dataset(shapes, tmp_path / "out")


def test_bad_folders(tmp_path):
    with pytest.raises(DataError, match="is not a folder"):
        load_dataset("folder", root=tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(DataError, match="no class sub-folders"):
        load_dataset("folder", root=tmp_path / "flat")
    make_folder(tmp_path / "set")
    (tmp_path / "set" / "empty").mkdir()
    (tmp_path / "set" / "empty" / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match=r"class folder .*empty holds no images"):
        load_dataset("folder", root=tmp_path / "set")
    with pytest.raises(ConfigError, match="needs root="):
        load_dataset("folder")


def test_unreadable_truncated_and_mixed_images(tmp_path):
    make_folder(tmp_path / "a")
    bad = tmp_path / "a" / "cat" / "000.png"
    bad.write_bytes(bad.read_bytes()[:60])
    with pytest.raises(DataError, match=r"000\.png: unreadable image .*truncated or damaged"):
        load_dataset("folder", "all", root=tmp_path / "a")
    make_folder(tmp_path / "b")
    (tmp_path / "b" / "dog" / "zzz.png").write_bytes(b"this is no image")
    with pytest.raises(DataError, match=r"zzz\.png: not an image file Pillow can read"):
        load_dataset("folder", "all", root=tmp_path / "b")
    make_folder(tmp_path / "c")
    Image.new("RGB", (9, 9)).save(tmp_path / "c" / "dog" / "big.png")
    with pytest.raises(DataError, match=r"big\.png is 9×9, .* is 6×7; pass size=\(H, W\)"):
        load_dataset("folder", "all", root=tmp_path / "c")
    assert load_dataset("folder", "all", root=tmp_path / "c", size=(6, 7)).images.shape == (10, 3, 6, 7)


def test_a_test_split_loaded_after_its_training_split_decodes_no_training_image_again(tmp_path, monkeypatch):
    from cnnlab.data import folder

    make_folder(tmp_path / "train")
    make_folder(tmp_path / "test", per_class=(1, 2))
    train = load_dataset("folder", "train", root=tmp_path, size=4)
    read, real = [], folder.read_image

    def counted(path, **kwargs):
        read.append(Path(path).parent.parent.name)  # the split folder
        return real(path, **kwargs)

    monkeypatch.setattr(folder, "read_image", counted)
    test = load_dataset("folder", "test", root=tmp_path, size=4)
    assert set(read) == {"test"}  # the statistics of the training split's 9 images are those its load computed
    assert test.mean == train.mean == channel_stats(train.images)[0] and test.std == train.std
    # a training image changed since: its split's statistics are computed anew, from the new pixels
    Image.fromarray(np.full((6, 7, 3), 255, dtype=np.uint8)).save(tmp_path / "train" / "cat" / "000.png")
    read.clear()
    changed = load_dataset("folder", "test", root=tmp_path, size=4)
    assert read.count("train") == 9
    assert changed.mean == channel_stats(load_dataset("folder", "train", root=tmp_path, size=4).images)[0]
    assert changed.mean != train.mean
