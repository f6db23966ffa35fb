"""Tests of lib.data: resolution, verification, safe extraction and the command line.

No test touches the network: every test runs with an empty cache of its own,
no mirror, and a downloader that fails as if the machine were offline.
"""

import hashlib
import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests

from lib import data

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REAL_MIRROR = PROJECT_ROOT.parent / "shared" / "data"
needs_real_mirror = pytest.mark.skipif(
    not (REAL_MIRROR / "SHA256SUMS").is_file(), reason=f"no offline mirror at {REAL_MIRROR}"
)


REAL_DOWNLOADER = data._downloader


def offline_downloader(url, output_file, pooch):
    raise requests.ConnectionError(f"offline: tests never download {url}")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """An empty cache, no mirror, no network and no remembered digests for every test."""
    monkeypatch.setenv("CONVNETS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CONVNETS_DATA", raising=False)
    monkeypatch.setattr(data, "_downloader", lambda: offline_downloader)
    monkeypatch.setattr(data, "_digests", {})


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def fake_asset(name, content=b"", **fields) -> data.Asset:
    fields.setdefault("filename", f"fake/{name}.bin")
    fields.setdefault("sha256", (sha256(content),))
    return data.Asset(name=name, description=f"fake {name} for a test", **fields)


@pytest.fixture
def registry(monkeypatch):
    """Swap the real registry for fake assets registered by the test."""
    assets = {}
    monkeypatch.setattr(data, "ASSETS", assets)

    def register(*new_assets):
        assets.update({asset.name: asset for asset in new_assets})

    return register


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """An empty mirror directory named by CONVNETS_DATA; returns a function adding files."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    monkeypatch.setenv("CONVNETS_DATA", str(folder))

    def put(filename, content: bytes) -> Path:
        path = folder / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path

    return put


def cached_files(tmp_path) -> list[Path]:
    return sorted(path for path in (tmp_path / "cache").rglob("*") if path.is_file())


# --- resolution and verification ------------------------------------------------


def test_fetch_takes_the_mirror_file_first(registry, mirror, tmp_path):
    registry(fake_asset("notes", b"from the mirror"))
    expected = mirror("fake/notes.bin", b"from the mirror")
    cached = tmp_path / "cache" / "data" / "fake" / "notes.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"from the mirror")

    assert data.fetch("notes") == expected


def test_fetch_falls_back_to_the_cache(registry, tmp_path):
    registry(fake_asset("notes", b"cached"))
    cached = tmp_path / "cache" / "data" / "fake" / "notes.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"cached")

    assert data.fetch("notes") == cached


def test_unknown_name_lists_the_registered_ones(registry):
    registry(fake_asset("notes", b"x"))
    with pytest.raises(KeyError, match="notes"):
        data.fetch("nots")


def test_wrong_mirror_file_is_refused_and_left_alone(registry, mirror):
    good, bad = b"the real bytes", b"altered bytes"
    registry(fake_asset("notes", good))
    path = mirror("fake/notes.bin", bad)

    with pytest.raises(data.ChecksumError) as error:
        data.fetch("notes")

    message = str(error.value)
    assert str(path) in message
    assert f"expected: {sha256(good)}" in message
    assert f"actual:   {sha256(bad)}" in message
    assert path.read_bytes() == bad  # the mirror is never modified


def test_wrong_cached_file_is_refused_and_deleted(registry, tmp_path):
    registry(fake_asset("notes", b"the real bytes"))
    cached = tmp_path / "cache" / "data" / "fake" / "notes.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncated")

    with pytest.raises(data.ChecksumError, match=sha256(b"truncated")):
        data.fetch("notes")
    assert not cached.exists()


def test_a_file_changed_after_verification_is_checked_again(registry, mirror):
    registry(fake_asset("notes", b"good"))
    path = mirror("fake/notes.bin", b"good")
    assert data.fetch("notes") == path

    path.write_bytes(b"changed later")
    with pytest.raises(data.ChecksumError):
        data.fetch("notes")


def test_any_accepted_digest_is_enough(registry, mirror):
    registry(fake_asset("notes", sha256=(sha256(b"one version"), sha256(b"another version"))))
    path = mirror("fake/notes.bin", b"another version")
    assert data.fetch("notes") == path


def test_missing_asset_offline_says_how_to_provide_it(registry):
    url = "https://example.invalid/notes.bin"
    asset = fake_asset("notes", b"x", url=url)
    registry(asset)

    with pytest.raises(data.MissingAssetError) as error:
        data.fetch("notes")

    message = str(error.value)
    assert isinstance(error.value, FileNotFoundError)
    assert error.value.assets == [asset]
    assert "'notes'" in message and "fake notes for a test" in message
    assert "fake/notes.bin" in message
    assert f"go online: it is downloaded from {url}" in message
    assert "set CONVNETS_DATA to a mirror directory containing fake/notes.bin" in message
    assert "offline: tests never download" in message  # why the download failed


def test_missing_mirror_only_asset_says_going_online_does_not_help(registry):
    registry(fake_asset("notes", b"x"))
    with pytest.raises(data.MissingAssetError) as error:
        data.fetch("notes")
    assert "going online does not help" in str(error.value)
    assert "CONVNETS_DATA" in str(error.value)


def test_mirror_that_is_not_a_directory_is_pointed_out(registry, monkeypatch, tmp_path):
    registry(fake_asset("notes", b"x"))
    monkeypatch.setenv("CONVNETS_DATA", str(tmp_path / "no-such-folder"))
    with pytest.raises(data.MissingAssetError, match="no-such-folder is not a directory"):
        data.fetch("notes")


# --- downloads ---------------------------------------------------------------------------


def test_verified_download_lands_in_the_cache(registry, monkeypatch, tmp_path):
    registry(fake_asset("notes", b"downloaded", url="https://example.invalid/notes.bin"))

    def downloader(url, output_file, pooch):
        Path(output_file).write_bytes(b"downloaded")

    monkeypatch.setattr(data, "_downloader", lambda: downloader)
    path = data.fetch("notes")
    assert path == tmp_path / "cache" / "data" / "fake" / "notes.bin"
    assert path.read_bytes() == b"downloaded"

    monkeypatch.setattr(data, "_downloader", lambda: offline_downloader)
    assert data.fetch("notes") == path  # now served by the cache


def test_interrupted_download_leaves_nothing_trusted(registry, monkeypatch, tmp_path):
    content = b"0123456789" * 100
    registry(fake_asset("notes", content, url="https://example.invalid/notes.bin"))

    def interrupted(url, output_file, pooch):
        Path(output_file).write_bytes(content[:300])
        raise requests.ConnectionError("connection reset halfway")

    monkeypatch.setattr(data, "_downloader", lambda: interrupted)
    with pytest.raises(data.MissingAssetError, match="connection reset halfway"):
        data.fetch("notes")
    assert cached_files(tmp_path) == []

    monkeypatch.setattr(data, "_downloader", lambda: offline_downloader)
    with pytest.raises(data.MissingAssetError):
        data.fetch("notes")


def test_download_with_wrong_digest_is_refused(registry, monkeypatch, tmp_path):
    registry(fake_asset("notes", b"expected", url="https://example.invalid/notes.bin"))
    monkeypatch.setattr(
        data, "_downloader", lambda: lambda url, out, pooch: Path(out).write_bytes(b"tampered")
    )
    with pytest.raises(data.ChecksumError, match=sha256(b"tampered")):
        data.fetch("notes")
    assert cached_files(tmp_path) == []


def test_the_real_downloader_fails_fast_and_needs_no_tqdm():
    downloader = REAL_DOWNLOADER()
    connect_timeout, _ = downloader.kwargs["timeout"]
    assert connect_timeout <= 10
    assert downloader.progressbar is False  # stderr is not a terminal under pytest


# --- fail-fast check -------------------------------------------------------------------


def test_prepare_lists_every_missing_asset_in_one_error(registry, mirror):
    present = fake_asset("present", b"here")
    mirror("fake/present.bin", b"here")
    online = fake_asset("online", b"x", url="https://example.invalid/online.bin")
    mirror_only = fake_asset("mirror_only", b"y")
    stand_in = fake_asset("stand_in", b"z", embedded="skimage.data.chelsea")
    registry(present, online, mirror_only, stand_in)

    assert [asset.name for asset in data.missing_assets()] == ["online", "mirror_only"]
    with pytest.raises(data.MissingAssetError) as error:
        data.prepare()

    message = str(error.value)
    assert [asset.name for asset in error.value.assets] == ["online", "mirror_only"]
    assert message.startswith("2 assets the book needs are not available")
    assert "- online (file fake/online.bin)" in message
    assert "- mirror_only (file fake/mirror_only.bin)" in message
    assert "present" not in message and "stand_in" not in message


def test_prepare_reports_a_corrupt_mirror_file_with_both_digests(registry, mirror):
    registry(fake_asset("notes", b"good"))
    mirror("fake/notes.bin", b"bad")
    with pytest.raises(data.MissingAssetError) as error:
        data.prepare()
    assert error.value.assets == [data.ASSETS["notes"]]
    assert sha256(b"good") in str(error.value) and sha256(b"bad") in str(error.value)


def test_prepare_returns_every_file_when_all_are_there(registry, mirror):
    registry(fake_asset("a", b"1"), fake_asset("b", b"2"))
    paths = {"a": mirror("fake/a.bin", b"1"), "b": mirror("fake/b.bin", b"2")}
    assert data.prepare() == paths
    assert data.missing_assets() == []


# --- zip extraction ---------------------------------------------------------------------


def make_zip(path: Path, entries: dict[str, bytes]) -> bytes:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return path.read_bytes()


DATASET_ENTRIES = {
    f"dogs-vs-cats_small/{split}/{animal}s/{animal}.{number}.jpg": b"jpeg bytes"
    for split in data.SPLITS
    for animal in ("cat", "dog")
    for number in range(2)
}


def register_fake_dataset(registry, mirror, tmp_path, entries) -> None:
    content = make_zip(tmp_path / "build.zip", entries)
    mirror("dogs-vs-cats_small.zip", content)
    registry(fake_asset("dogs_vs_cats_small", content, filename="dogs-vs-cats_small.zip"))


def test_dogs_vs_cats_dir_extracts_once(registry, mirror, tmp_path):
    register_fake_dataset(registry, mirror, tmp_path, DATASET_ENTRIES)

    folder = data.dogs_vs_cats_dir()
    assert folder.name == "dogs-vs-cats_small"
    assert sorted(path.name for path in folder.iterdir()) == ["test", "train", "validation"]
    assert len(list(folder.rglob("*.jpg"))) == len(DATASET_ENTRIES)

    marker = folder / "train" / "cats" / "cat.0.jpg"
    marker.write_bytes(b"touched")  # a second call must not extract again
    assert data.dogs_vs_cats_dir() == folder
    assert marker.read_bytes() == b"touched"


@pytest.mark.parametrize("evil_entry", ["../evil.txt", "dogs/../../evil.txt", "ABSOLUTE"])
def test_zip_entry_escaping_the_folder_is_refused(registry, mirror, tmp_path, evil_entry):
    outside = tmp_path / "outside" / "evil.txt"
    if evil_entry == "ABSOLUTE":
        evil_entry = str(outside)
    register_fake_dataset(registry, mirror, tmp_path, {**DATASET_ENTRIES, evil_entry: b"owned"})

    with pytest.raises(data.UnsafeArchiveError, match="outside"):
        data.dogs_vs_cats_dir()

    assert not outside.exists()
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "cache" / "evil.txt").exists()
    assert list((tmp_path / "cache" / "data").iterdir()) == []  # nothing extracted at all


def test_interrupted_extraction_leaves_nothing_trusted(registry, mirror, tmp_path, monkeypatch):
    register_fake_dataset(registry, mirror, tmp_path, DATASET_ENTRIES)
    real_extract = zipfile.ZipFile.extract
    calls = {"count": 0, "fail": True}

    def extract_then_fail(self, member, path=None, pwd=None):
        calls["count"] += 1
        if calls["fail"] and calls["count"] == 3:
            raise OSError("disk full (simulated)")
        return real_extract(self, member, path, pwd)

    monkeypatch.setattr(zipfile.ZipFile, "extract", extract_then_fail)
    with pytest.raises(OSError, match="disk full"):
        data.dogs_vs_cats_dir()
    assert list((tmp_path / "cache" / "data").iterdir()) == []

    calls["fail"] = False
    folder = data.dogs_vs_cats_dir()
    assert len(list(folder.rglob("*.jpg"))) == len(DATASET_ENTRIES)


def test_leftover_of_a_killed_extraction_is_ignored(registry, mirror, tmp_path):
    register_fake_dataset(registry, mirror, tmp_path, DATASET_ENTRIES)
    leftover = tmp_path / "cache" / "data" / ".dogs-vs-cats_small-0123.partial-x" / "train"
    leftover.mkdir(parents=True)

    folder = data.dogs_vs_cats_dir()
    assert ".partial-" not in str(folder)
    assert len(list(folder.rglob("*.jpg"))) == len(DATASET_ENTRIES)


# --- photos ------------------------------------------------------------------------------


def test_cat_photo_falls_back_to_the_embedded_one(capsys):
    image = data.load_photo("cat_photo")
    assert image.shape == (300, 451, 3) and image.dtype == np.uint8
    assert "skimage.data.chelsea() is used instead" in capsys.readouterr().out


def test_other_photos_have_no_fallback():
    with pytest.raises(data.MissingAssetError, match="images/african_elephant.jpg"):
        data.load_photo("elephant_photo")


# --- command line -----------------------------------------------------------------------


def test_status_shows_where_each_asset_comes_from(registry, mirror, tmp_path, capsys):
    registry(
        fake_asset("in_mirror", b"m"),
        fake_asset("in_cache", b"c"),
        fake_asset("online", b"o", url="https://example.invalid/online.bin"),
        fake_asset("stand_in", b"s", embedded="skimage.data.chelsea"),
        fake_asset("absent", b"a"),
    )
    mirror("fake/in_mirror.bin", b"m")
    cached = tmp_path / "cache" / "data" / "fake" / "in_cache.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"c")

    assert data.main(["status"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert f"mirror {tmp_path / 'mirror' / 'fake' / 'in_mirror.bin'}" in rows["in_mirror"]
    assert f"cache {cached}" in rows["in_cache"]
    assert "download https://example.invalid/online.bin" in rows["online"]
    assert "embedded default skimage.data.chelsea()" in rows["stand_in"]
    assert "MISSING" in rows["absent"]


def test_check_fails_listing_the_missing_assets(registry, mirror, capsys):
    registry(fake_asset("present", b"p"), fake_asset("absent", b"a"), fake_asset("gone", b"g"))
    mirror("fake/present.bin", b"p")

    assert data.main(["check"]) == 1
    err = capsys.readouterr().err
    assert "2 assets the book needs are not available" in err
    assert "- absent (file fake/absent.bin)" in err and "- gone (file fake/gone.bin)" in err
    assert "Traceback" not in err


def test_check_passes_when_everything_is_there(registry, mirror, capsys):
    registry(
        fake_asset("present", b"p"), fake_asset("stand_in", b"s", embedded="skimage.data.chelsea")
    )
    mirror("fake/present.bin", b"p")

    assert data.main(["check"]) == 0
    assert "All 2 assets are available (stand_in from embedded defaults)" in capsys.readouterr().out


def test_mirror_command_copies_files_and_reports_failures(registry, mirror, tmp_path, capsys):
    registry(fake_asset("present", b"p"), fake_asset("absent", b"a"))
    mirror("fake/present.bin", b"p")
    target = tmp_path / "new-mirror"

    assert data.main(["mirror", str(target)]) == 1
    assert (target / "fake" / "present.bin").read_bytes() == b"p"
    assert (target / "SHA256SUMS").read_text() == f"{sha256(b'p')}  fake/present.bin\n"
    assert "absent (fake/absent.bin)" in capsys.readouterr().err


# --- the real registry and the real mirror -------------------------------------------


def test_registry_has_every_asset_the_conventions_name():
    photos = [f"test_photo/cat.{n}.jpg" for n in range(1500, 1511)]
    photos += [f"test_photo/dog.{n}.jpg" for n in range(1500, 1510)]
    expected = ["mnist", "dogs_vs_cats_small", "imagenet_class_index", "cat_photo"]
    expected += ["elephant_photo", "cat_and_dog_photo", *photos]
    expected += ["vgg16_weights", "vgg16_weights_notop"]  # optional: not in the mirror
    assert list(data.ASSETS) == expected


def test_mnist_accepts_the_digest_keras_checks():
    mnist = data.ASSETS["mnist"]
    assert mnist.url_sha256 == data.KERAS_MNIST_SHA256 and mnist.url_sha256 in mnist.sha256
    spec = importlib.util.find_spec("keras")
    source = Path(spec.origin).parent / "src" / "datasets" / "mnist.py" if spec else None
    if source is None or not source.is_file():
        pytest.skip("keras's mnist loader is not installed here")
    assert data.KERAS_MNIST_SHA256 in source.read_text()


@needs_real_mirror
def test_registry_matches_the_mirror_checksums():
    listed = {}
    for line in (REAL_MIRROR / "SHA256SUMS").read_text().splitlines():
        digest, filename = line.split("  ")
        listed[filename] = digest
    registered = {asset.filename: asset for asset in data.ASSETS.values() if asset.sha256}
    assert sorted(registered) == sorted(listed)
    for filename, digest in listed.items():
        assert digest in registered[filename].sha256


@pytest.fixture
def real_mirror(monkeypatch):
    monkeypatch.setenv("CONVNETS_DATA", str(REAL_MIRROR))


@needs_real_mirror
def test_every_asset_resolves_from_the_real_mirror(real_mirror):
    paths = data.prepare()  # the VGG16 weights fall back to EfficientNet-Lite0
    assert set(paths) == {name for name, asset in data.ASSETS.items() if asset.sha256}
    assert all(path.is_relative_to(REAL_MIRROR) for path in paths.values())


@needs_real_mirror
def test_load_mnist_from_the_real_mirror(real_mirror):
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and x_test.shape == (10000, 28, 28)
    assert y_test.shape == (10000,)
    assert sorted(np.unique(y_train)) == list(range(10))


@needs_real_mirror
def test_photos_and_class_index_from_the_real_mirror(real_mirror, capsys):
    paths = data.test_photo_paths()
    assert [path.name for path in paths[:2]] == ["cat.1500.jpg", "cat.1501.jpg"]
    assert [path.name for path in paths[-1:]] == ["dog.1509.jpg"]
    assert len(paths) == 20 and sum(path.name.startswith("cat") for path in paths[:10]) == 10
    cat = data.load_photo("cat_photo")
    assert cat.shape == (547, 639, 3) and cat.dtype == np.uint8
    assert capsys.readouterr().out == ""  # no fallback note when the file is there
    assert data.imagenet_class_index()["0"] == ["n01440764", "tench"]


@needs_real_mirror
def test_dogs_vs_cats_dir_from_the_real_mirror(real_mirror):
    folder = data.dogs_vs_cats_dir()
    counts = {split: len(list((folder / split / "cats").glob("*.jpg"))) for split in data.SPLITS}
    assert counts == {"train": 1000, "validation": 500, "test": 500}


@needs_real_mirror
def test_status_command_with_the_real_mirror(tmp_path):
    env = {**os.environ, "CONVNETS_DATA": str(REAL_MIRROR)}
    result = subprocess.run(
        [sys.executable, "-m", "lib.data", "status"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()[2:]
    assert len(rows) == len(data.ASSETS)
    in_mirror = [row for row in rows if not row.startswith("vgg16_weights")]
    assert len(in_mirror) == len(data.ASSETS) - 2
    assert all(f"mirror {REAL_MIRROR}" in row for row in in_mirror)
