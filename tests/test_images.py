"""Image folders: unreadable files are skipped and counted, bad folders are named."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

import lib  # noqa: F401  (quiet TensorFlow start-up)
from lib import images

COLOURS = {
    "cats": [(200, 30, 30), (180, 60, 40), (220, 10, 90)],
    "dogs": [(20, 40, 200), (30, 90, 180)],
}


def write_jpeg(path, colour, size=(24, 20)):
    """A small JPEG of ``size`` (width, height): a colour with a gradient, so it is not flat."""
    width, height = size
    ramp = np.linspace(0, 40, width, dtype=np.float32)[None, :, None]
    pixels = np.clip(np.array(colour, dtype=np.float32)[None, None, :] + ramp, 0, 255)
    pixels = np.broadcast_to(pixels, (height, width, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG", quality=90)


@pytest.fixture
def folder(tmp_path):
    """cats/ with 3 good JPEGs plus 3 bad files, dogs/ with 2 good JPEGs."""
    for name, colours in COLOURS.items():
        (tmp_path / name).mkdir()
        for index, colour in enumerate(colours):
            write_jpeg(tmp_path / name / f"{name[:-1]}.{index}.jpg", colour)
    (tmp_path / "cats" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    (tmp_path / "cats" / "notes.txt").write_text("not an image at all")
    good = (tmp_path / "cats" / "cat.0.jpg").read_bytes()
    (tmp_path / "cats" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (tmp_path / "cats" / ".DS_Store").write_bytes(b"hidden files are ignored")
    return tmp_path


def test_unreadable_files_are_skipped_and_counted(folder, capsys):
    loaded = images.load_image_folder(folder, image_size=(16, 18))
    assert loaded.class_names == ["cats", "dogs"]
    assert loaded.images.shape == (5, 16, 18, 3)
    assert loaded.images.dtype == np.uint8
    assert loaded.labels.tolist() == [0, 0, 0, 1, 1]
    assert loaded.counts() == {"cats": 3, "dogs": 2}
    assert sorted(path.name for path in loaded.skipped) == [
        "corrupt.jpg",
        "notes.txt",
        "truncated.jpg",
    ]
    assert [path.name for path in loaded.paths] == [
        "cat.0.jpg",
        "cat.1.jpg",
        "cat.2.jpg",
        "dog.0.jpg",
        "dog.1.jpg",
    ]
    message = capsys.readouterr().out
    assert "skipped 3 unreadable files" in message
    assert "cats/corrupt.jpg" in message and "cats/truncated.jpg" in message


def test_images_keep_their_colours(folder):
    loaded = images.load_image_folder(folder, image_size=(16, 16), verbose=False)
    red, blue = loaded.images[0].mean(axis=(0, 1)), loaded.images[3].mean(axis=(0, 1))
    assert red[0] > red[2] and blue[2] > blue[0]


def test_class_names_fix_the_label_order(folder):
    loaded = images.load_image_folder(folder, (8, 8), class_names=["dogs", "cats"], verbose=False)
    assert loaded.labels.tolist() == [0, 0, 1, 1, 1]


def test_missing_class_folder_is_named(folder):
    with pytest.raises(FileNotFoundError, match="'birds'.*birds"):
        images.load_image_folder(folder, (8, 8), class_names=["cats", "birds"])


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        images.load_image_folder(tmp_path / "nowhere", (8, 8))


def test_folder_without_class_folders(tmp_path):
    write_jpeg(tmp_path / "loose.jpg", (1, 2, 3))
    with pytest.raises(FileNotFoundError, match="no class folders"):
        images.load_image_folder(tmp_path, (8, 8))


def test_empty_class_folder_is_named(folder):
    (folder / "birds").mkdir()
    with pytest.raises(images.UnreadableFolderError, match="'birds' is empty"):
        images.load_image_folder(folder, (8, 8))


def test_class_folder_without_a_readable_image_is_named(folder):
    (folder / "birds").mkdir()
    (folder / "birds" / "bad.jpg").write_bytes(b"garbage")
    with pytest.raises(images.UnreadableFolderError, match="'birds' holds no readable image"):
        images.load_image_folder(folder, (8, 8), verbose=False)


def test_load_image_resizes_to_height_and_width(folder):
    image = images.load_image(folder / "dogs" / "dog.0.jpg", (10, 30))
    assert image.shape == (10, 30, 3) and image.dtype == np.uint8
    assert images.load_image(folder / "dogs" / "dog.0.jpg").shape == (20, 24, 3)


def test_dataset_batches_rescales_and_covers_everything(folder):
    loaded = images.load_image_folder(folder, (16, 16), verbose=False)
    batches = list(loaded.dataset(2, shuffle=True))
    assert [len(labels) for _, labels in batches] == [2, 2, 1]
    pixels = np.concatenate([batch.numpy() for batch, _ in batches])
    labels = np.concatenate([labels.numpy() for _, labels in batches])
    assert pixels.dtype == np.float32 and labels.dtype == np.float32
    assert 0.0 <= pixels.min() and pixels.max() <= 1.0
    assert sorted(labels.tolist()) == [0.0, 0.0, 0.0, 1.0, 1.0]
    # Without shuffling or augmentation the pipeline only rescales.
    (first, _), *_ = loaded.dataset(5)
    np.testing.assert_allclose(first.numpy(), loaded.images / 255, atol=1e-6)


def test_dogs_vs_cats_splits_come_from_the_data_layer(folder, tmp_path_factory, monkeypatch):
    from lib import data

    root = tmp_path_factory.mktemp("dogs_vs_cats")
    (root / "validation").symlink_to(folder)
    monkeypatch.setattr(data, "dogs_vs_cats_dir", lambda: root)
    splits = images.load_dogs_vs_cats((16, 18), ("validation",), verbose=False)
    assert list(splits) == ["validation"]
    assert splits["validation"].class_names == ["cats", "dogs"]
    assert splits["validation"].images.shape == (5, 16, 18, 3)


def test_test_photos_are_labelled_from_their_names(tmp_path, monkeypatch):
    from lib import data

    paths = []
    for name, colour in (("cat.1500.jpg", (200, 30, 30)), ("dog.1500.jpg", (20, 40, 200))):
        write_jpeg(tmp_path / name, colour)
        paths.append(tmp_path / name)
    monkeypatch.setattr(data, "test_photo_paths", lambda: paths)
    photos, labels, returned = images.load_test_photos((10, 12))
    assert photos.shape == (2, 10, 12, 3) and photos.dtype == np.uint8
    assert labels.tolist() == [0, 1]
    assert returned == paths


def test_sigmoid_outputs_read_as_labels():
    # A (n, 1) model output, as predict returns it; exactly 0.5 is not yet a dog.
    outputs = np.array([[0.9], [0.2], [0.5], [0.51]])
    np.testing.assert_array_equal(images.predicted_labels(outputs), [1, 0, 0, 1])
    assert images.count_right(outputs, [1, 1, 0, 0]) == 2


def test_per_class_keeps_the_first_files_of_each_class(folder):
    loaded = images.load_image_folder(folder, (8, 8), per_class=2, verbose=False)
    assert loaded.counts() == {"cats": 2, "dogs": 2}
    assert [path.name for path in loaded.paths] == [
        "cat.0.jpg",
        "cat.1.jpg",
        "dog.0.jpg",
        "dog.1.jpg",
    ]


def test_the_smoke_budget_takes_a_few_photos_of_each_class(folder, tmp_path_factory, monkeypatch):
    from lib import data

    root = tmp_path_factory.mktemp("dogs_vs_cats")
    (root / "train").symlink_to(folder)
    monkeypatch.setattr(data, "dogs_vs_cats_dir", lambda: root)
    monkeypatch.setattr(images, "SMOKE_PHOTOS_PER_CLASS", 1)
    monkeypatch.setenv("CONVNETS_BUDGET", "smoke")
    smoke = images.load_dogs_vs_cats((8, 8), ("train",), verbose=False)["train"]
    assert smoke.counts() == {"cats": 1, "dogs": 1}
    monkeypatch.setenv("CONVNETS_BUDGET", "ci")
    assert len(images.load_dogs_vs_cats((8, 8), ("train",), verbose=False)["train"]) == 5


def test_an_image_too_large_to_decode_is_skipped_as_too_large(folder, capsys, monkeypatch):
    write_jpeg(folder / "dogs" / "huge.jpg", (10, 10, 10), size=(40, 30))  # 1,200 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # PIL refuses over twice this
    loaded = images.load_image_folder(folder, image_size=(16, 18))
    assert "huge.jpg" in [path.name for path in loaded.skipped]
    message = capsys.readouterr().out
    assert "skipped 1 image too large to decode (over 1,000 pixels): dogs/huge.jpg" in message
    assert "skipped 3 unreadable files" in message


@pytest.mark.parametrize(
    ("image_size", "says"),
    [
        (64, "image_size must be (height, width), e.g. (150, 150); got 64"),
        ((0, 0), "two whole, positive numbers of pixels"),
        ((150, 150, 3), "image_size must be (height, width)"),
        ((150.5, 150), "two whole, positive numbers of pixels"),
    ],
)
def test_a_wrong_image_size_says_what_is_wanted(folder, image_size, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        images.load_image_folder(folder, image_size=image_size)


def test_a_class_named_twice_is_refused(folder):
    with pytest.raises(ValueError, match="names 'cats' more than once"):
        images.load_image_folder(folder, image_size=(16, 18), class_names=["cats", "cats"])


def test_a_photo_of_20000_by_20000_pixels_is_skipped_as_too_large(folder, capsys):
    """PIL's DecompressionBombError at its default limit: too large, not unreadable."""
    Image.new("1", (20_000, 20_000)).save(folder / "dogs" / "huge.png")  # one colour: 48 KB
    with pytest.raises(Image.DecompressionBombError):
        images.load_image(folder / "dogs" / "huge.png")
    loaded = images.load_image_folder(folder, image_size=(16, 18))
    assert "huge.png" in [path.name for path in loaded.skipped] and len(loaded) == 5
    limit = f"{Image.MAX_IMAGE_PIXELS * 2:,}"
    message = capsys.readouterr().out
    assert f"skipped 1 image too large to decode (over {limit} pixels): dogs/huge.png" in message
    unreadable = next(line for line in message.splitlines() if "unreadable" in line)
    assert "skipped 3 unreadable files" in unreadable and "huge" not in unreadable


def test_unreadable_files_are_listed_with_pils_limit_switched_off(folder, capsys, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # a reader's way to allow any size
    images.load_image_folder(folder, image_size=(16, 18))
    assert "skipped 3 unreadable files" in capsys.readouterr().out


@pytest.mark.parametrize("per_class", [-1, 0, 2.5, "3", True])
def test_a_wrong_per_class_says_what_is_wanted(folder, per_class):
    with pytest.raises(ValueError, match=re.escape("per_class must be a whole number of files")):
        images.load_image_folder(folder, image_size=(16, 18), per_class=per_class)


def test_class_names_as_one_string_is_refused(folder):
    with pytest.raises(
        ValueError, match=re.escape("a list of folder names, e.g. ['cats', 'dogs']")
    ):
        images.load_image_folder(folder, image_size=(16, 18), class_names="cats")


@pytest.mark.parametrize(
    ("image_size", "says"),
    [(64, "got 64"), ((0, 0), "two whole, positive numbers of pixels")],
)
def test_load_image_refuses_a_wrong_image_size(folder, image_size, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        images.load_image(folder / "dogs" / "dog.0.jpg", image_size)
