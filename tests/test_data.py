"""Tests of the data layer: resolution, verification, repair, safe extraction, the command line.

The data layer is lib.data (what chapters call), lib.assets (the registry),
lib.asset_files (one file), lib.asset_folders (a folder of many),
lib.data_sources (the whole registry at once) and lib.downloads. A test patches
a name in the module that looks it up.

No test reaches the internet: every test runs with an empty cache of its own,
no mirror, and every download asked of a local origin that refuses
connections, as an offline machine does. Tests of downloads serve their files
from tests/origin_server.py on 127.0.0.1.
"""

import hashlib
import importlib.util
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from origin_server import origin_path, serve

from lib import asset_files, asset_folders, assets, cache_files, config, data, downloads

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REAL_MIRROR = PROJECT_ROOT.parent / "shared" / "data"
needs_real_mirror = pytest.mark.skipif(
    not (REAL_MIRROR / "SHA256SUMS").is_file(), reason=f"no offline mirror at {REAL_MIRROR}"
)


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


OFFLINE_ORIGIN = f"http://127.0.0.1:{closed_port()}"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """An empty cache, no mirror, no network and no remembered digests for every test."""
    monkeypatch.setenv("CONVNETS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CONVNETS_DATA", raising=False)
    monkeypatch.setenv("CONVNETS_DOWNLOAD_ORIGIN", OFFLINE_ORIGIN)
    monkeypatch.setattr(cache_files, "_digests", {})
    monkeypatch.setattr(downloads, "RETRIES", 1)
    monkeypatch.setattr(downloads, "BACKOFF_S", 0.01)


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def fake_asset(name, content=b"", **fields) -> assets.Asset:
    fields.setdefault("filename", f"fake/{name}.bin")
    fields.setdefault("sha256", (sha256(content),))
    return assets.Asset(name=name, description=f"fake {name} for a test", **fields)


@pytest.fixture
def registry(monkeypatch):
    """Swap the real registry for fake assets registered by the test."""
    fake_registry = {}
    monkeypatch.setattr(assets, "ASSETS", fake_registry)

    def register(*new_assets):
        fake_registry.update({asset.name: asset for asset in new_assets})

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
    assert "cannot connect to 127.0.0.1" in message  # why the download failed


def test_an_asset_without_public_source_says_going_online_does_not_help(registry):
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


def test_relative_settings_are_taken_from_the_project_root(monkeypatch, tmp_path):
    root, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setattr(config, "project_root", lambda: root)
    monkeypatch.chdir(elsewhere)  # e.g. book/, where chapters execute
    monkeypatch.setenv("CONVNETS_CACHE", "my-cache")
    monkeypatch.setenv("CONVNETS_DATA", "mirror")
    assert config.cache_dir() == root / "my-cache" and (root / "my-cache").is_dir()
    assert asset_files.mirror_dir() == root / "mirror"
    assert not (elsewhere / "my-cache").exists()


def test_a_cache_setting_naming_a_file_is_explained(monkeypatch, tmp_path, capsys):
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    monkeypatch.setenv("CONVNETS_CACHE", str(file))
    with pytest.raises(NotADirectoryError, match=f"CONVNETS_CACHE={file} cannot be used"):
        config.cache_dir()
    assert data.main(["check"]) == 1
    err = capsys.readouterr().err
    assert f"CONVNETS_CACHE={file} cannot be used" in err and "Traceback" not in err


def test_stale_temporaries_are_cleared_once_per_process(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "_swept", set())
    models = tmp_path / "cache" / "models"
    models.mkdir(parents=True)
    stale = [models / ".model.abc123.tmp.keras", models / ".features.x1y2.tmp"]
    stale_folder = tmp_path / "cache" / "data" / ".dogs-vs-cats_small-0123.partial-x7"
    (stale_folder / "train").mkdir(parents=True)
    fresh = models / ".model.def456.tmp.keras"  # a live process is writing it
    kept = models / "model.keras"
    for path in [*stale, fresh, kept]:
        path.write_bytes(b"x")
    an_hour_ago = time.time() - config.STALE_AFTER_S - 60
    for path in [*stale, stale_folder]:
        os.utime(path, (an_hour_ago, an_hour_ago))

    config.cache_dir()
    assert [path.exists() for path in stale] == [False, False] and not stale_folder.exists()
    assert fresh.exists() and kept.exists()


# --- downloads ---------------------------------------------------------------------------

URL = "https://files.example.test/notes.bin"


@pytest.fixture
def origin(monkeypatch):
    """A local stand-in for the public hosts; returns a function serving one file."""
    with serve({}) as server:
        monkeypatch.setenv("CONVNETS_DOWNLOAD_ORIGIN", server.url)

        def put(url, content: bytes, fault=None):
            server.files[origin_path(url)] = content
            if fault:
                server.faults[origin_path(url)] = fault
            return server

        yield put


def test_verified_download_lands_in_the_cache(registry, origin, monkeypatch, tmp_path):
    registry(fake_asset("notes", b"downloaded", url=URL))
    server = origin(URL, b"downloaded")
    path = data.fetch("notes")
    assert path == tmp_path / "cache" / "data" / "fake" / "notes.bin"
    assert path.read_bytes() == b"downloaded"
    assert cached_files(tmp_path) == [path, tmp_path / "cache" / "data" / "provenance.json"]

    monkeypatch.setenv("CONVNETS_DOWNLOAD_ORIGIN", OFFLINE_ORIGIN)
    assert data.fetch("notes") == path  # now served by the cache
    assert server.requests[origin_path(URL)] == 1


def test_interrupted_download_leaves_nothing_trusted(registry, origin, tmp_path):
    content = b"0123456789" * 1000
    registry(fake_asset("notes", content, url=URL))
    server = origin(URL, content, fault="drop-halfway")

    with pytest.raises(data.MissingAssetError, match="connection dropped"):
        data.fetch("notes")
    assert server.requests[origin_path(URL)] == 1 + downloads.RETRIES  # retried, then given up
    assert [path.name for path in cached_files(tmp_path)] == ["provenance.json"]

    del server.faults[origin_path(URL)]
    assert data.fetch("notes").read_bytes() == content  # a re-run completes


def test_download_with_wrong_digest_is_refused(registry, origin, tmp_path):
    registry(fake_asset("notes", b"expected", url=URL))
    origin(URL, b"expected", fault="wrong-bytes")
    with pytest.raises(data.ChecksumError, match=sha256(b"detcepxe")) as error:
        data.fetch("notes")
    assert f"expected: {sha256(b'expected')}" in str(error.value) and URL in str(error.value)
    assert [path.name for path in cached_files(tmp_path)] == ["provenance.json"]


def test_the_downloader_fails_fast_and_reports_in_plain_lines_without_a_terminal():
    assert downloads.CONNECT_TIMEOUT_S <= 10 and downloads.READ_TIMEOUT_S <= 30
    stream = io.StringIO()
    items = [downloads.Download(URL, Path("x"), size=4_000_000)]
    progress = downloads.Progress("notes", items, stream=stream)
    progress.close(failed=1)
    assert stream.getvalue() == ""  # nothing arrived: the error says why, not the report
    for _ in range(4):
        progress(1_000_000)
    progress.close(failed=0)
    assert progress.bar is None
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Downloading notes (1 file, 4.0 MB)..."
    assert lines[1:4] == ["  25% of notes", "  50% of notes", "  75% of notes"]
    assert lines[-1].startswith("Downloaded notes in ")


# --- fail-fast check -------------------------------------------------------------------


def test_prepare_lists_every_missing_asset_in_one_error(registry, mirror):
    present = fake_asset("present", b"here")
    mirror("fake/present.bin", b"here")
    online = fake_asset("online", b"x", url="https://example.invalid/online.bin")
    no_source = fake_asset("no_source", b"y")
    stand_in = fake_asset("stand_in", b"z", embedded="skimage.data.chelsea")
    registry(present, online, no_source, stand_in)

    assert [asset.name for asset in data.missing_assets()] == ["online", "no_source"]
    with pytest.raises(data.MissingAssetError) as error:
        data.prepare()

    message = str(error.value)
    assert [asset.name for asset in error.value.assets] == ["online", "no_source"]
    assert message.startswith("2 assets the book needs are not available")
    assert "- online (file fake/online.bin)" in message
    assert "- no_source (file fake/no_source.bin)" in message
    assert "present" not in message and "stand_in" not in message


def test_prepare_reports_a_corrupt_mirror_file_with_both_digests(registry, mirror):
    registry(fake_asset("notes", b"good"))
    mirror("fake/notes.bin", b"bad")
    with pytest.raises(data.MissingAssetError) as error:
        data.prepare()
    assert error.value.assets == [assets.ASSETS["notes"]]
    assert sha256(b"good") in str(error.value) and sha256(b"bad") in str(error.value)


def test_prepare_returns_every_file_when_all_are_there(registry, mirror):
    registry(fake_asset("a", b"1"), fake_asset("b", b"2"))
    paths = {"a": mirror("fake/a.bin", b"1"), "b": mirror("fake/b.bin", b"2")}
    assert data.prepare() == paths
    assert data.missing_assets() == []


def test_prepare_downloads_a_wrong_cached_copy_again(registry, origin, tmp_path):
    registry(fake_asset("notes", b"good", url=URL))
    origin(URL, b"good")
    cached = tmp_path / "cache" / "data" / "fake" / "notes.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"damaged")
    assert data.prepare() == {"notes": cached} and cached.read_bytes() == b"good"


# --- folders of many files (the Dogs vs. Cats subset) -------------------------------------


def make_zip(path: Path, entries: dict[str, bytes]) -> bytes:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return path.read_bytes()


DATASET_ENTRIES = {
    f"dogs-vs-cats_small/{split}/{animal}s/{animal}.{number}.jpg": f"{animal}{number}".encode()
    for split in data.SPLITS
    for animal in ("cat", "dog")
    for number in range(2 * data.SPLITS.index(split), 2 * data.SPLITS.index(split) + 2)
}
PHOTOS_URL = "https://photos.example.test/train/{name}"


def register_fake_dataset(registry, mirror, tmp_path, entries, manifest_entries=None):
    """A fake Dogs vs. Cats asset: its zip in the mirror (if ``mirror``), its manifest, its
    photos' URLs; returns the zip's path."""
    manifest = tmp_path / "manifest.sha256"
    lines = [
        f"{sha256(content)}  {len(content)}  {name.removeprefix('dogs-vs-cats_small/')}\n"
        for name, content in (manifest_entries or entries).items()
    ]
    manifest.write_text("# a fake manifest\n" + "".join(lines))
    archive = tmp_path / "build.zip"
    content = make_zip(archive, entries)
    if mirror is not None:
        archive = mirror("dogs-vs-cats_small.zip", content)
    members = assets.Members(manifest, "dogs-vs-cats_small", PHOTOS_URL, "https://example.test")
    registry(
        fake_asset(
            "dogs_vs_cats_small", content, filename="dogs-vs-cats_small.zip", members=members
        )
    )
    return archive


def photo_bytes(folder: Path) -> dict[str, bytes]:
    return {
        f"dogs-vs-cats_small/{path.relative_to(folder).as_posix()}": path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_dogs_vs_cats_dir_extracts_once_and_checks_names_and_sizes(registry, mirror, tmp_path):
    register_fake_dataset(registry, mirror, tmp_path, DATASET_ENTRIES)

    folder = data.dogs_vs_cats_dir()
    assert folder.name == "dogs-vs-cats_small"
    assert sorted(path.name for path in folder.iterdir()) == ["test", "train", "validation"]
    assert photo_bytes(folder) == DATASET_ENTRIES

    marker = folder / "train" / "cats" / "cat.0.jpg"
    marker.write_bytes(b"CAT0")  # same size: only a full check sees it
    assert data.dogs_vs_cats_dir() == folder
    assert marker.read_bytes() == b"CAT0"  # not extracted again
    assert data.prepare() == {"dogs_vs_cats_small": folder}  # check computes every digest
    assert marker.read_bytes() == b"cat0"


def test_missing_damaged_and_unexpected_files_are_repaired(registry, mirror, tmp_path, capsys):
    register_fake_dataset(registry, mirror, tmp_path, DATASET_ENTRIES)
    folder = data.dogs_vs_cats_dir()
    (folder / "train" / "cats" / "cat.0.jpg").unlink()
    (folder / "train" / "dogs" / "dog.1.jpg").write_bytes(b"truncated, longer")
    (folder / "train" / "horses").mkdir()
    (folder / "train" / "horses" / "horse.0.jpg").write_bytes(b"neigh")
    capsys.readouterr()

    assert data.dogs_vs_cats_dir() == folder
    assert photo_bytes(folder) == DATASET_ENTRIES
    err = capsys.readouterr().err
    assert "removed 2 files or folders" in err
    assert "2 of the 12 files of dogs_vs_cats_small" in err and "restoring them from" in err


def test_a_deleted_split_folder_is_restored(registry, mirror, tmp_path):
    register_fake_dataset(registry, mirror, tmp_path, DATASET_ENTRIES)
    folder = data.dogs_vs_cats_dir()
    shutil.rmtree(folder / "validation")
    assert data.dogs_vs_cats_dir() == folder
    assert photo_bytes(folder) == DATASET_ENTRIES


def test_without_a_mirror_the_photos_are_downloaded_and_resumed(registry, origin, tmp_path):
    register_fake_dataset(registry, None, tmp_path, DATASET_ENTRIES)
    for name, content in DATASET_ENTRIES.items():
        server = origin(PHOTOS_URL.format(name=name.rpartition("/")[2]), content)
    dropped = origin_path(PHOTOS_URL.format(name="dog.3.jpg"))
    server.faults[dropped] = "404"

    with pytest.raises(data.MissingAssetError) as error:
        data.dogs_vs_cats_dir()
    assert "1 of 12 downloads failed" in str(error.value) and "HTTP 404" in str(error.value)
    assert "https://photos.example.test/train/dog.3.jpg" in str(error.value)
    assert sum(server.requests.values()) == 12

    del server.faults[dropped]
    folder = data.dogs_vs_cats_dir()  # the re-run asks only for what is missing
    assert sum(server.requests.values()) == 13
    assert photo_bytes(folder) == DATASET_ENTRIES


def test_a_photo_missing_from_the_zip_is_named(registry, mirror, tmp_path):
    entries = dict(DATASET_ENTRIES)
    lost = entries.pop("dogs-vs-cats_small/test/dogs/dog.5.jpg")
    archive = register_fake_dataset(
        registry,
        mirror,
        tmp_path,
        entries,
        {**entries, "dogs-vs-cats_small/test/dogs/dog.5.jpg": lost},
    )
    with pytest.raises(data.ChecksumError, match=f"{archive} has no dogs-vs-cats_small/test/dogs"):
        data.dogs_vs_cats_dir()


@pytest.mark.parametrize("evil_entry", ["../evil.txt", "dogs/../../evil.txt", "ABSOLUTE"])
def test_zip_entry_escaping_the_folder_is_refused(registry, mirror, tmp_path, evil_entry):
    outside = tmp_path / "outside" / "evil.txt"
    if evil_entry == "ABSOLUTE":
        evil_entry = str(outside)
    entries = {**DATASET_ENTRIES, evil_entry: b"owned"}
    archive = register_fake_dataset(registry, mirror, tmp_path, entries, DATASET_ENTRIES)

    with pytest.raises(asset_folders.UnsafeArchiveError, match="outside") as error:
        data.dogs_vs_cats_dir()

    assert f"Refusing to extract {archive}" in str(error.value)
    assert ".partial-" not in str(error.value)
    assert not outside.exists()
    assert not (tmp_path / "evil.txt").exists()
    assert cached_files(tmp_path) == []  # nothing extracted at all


def test_extract_zip_refuses_unsafe_entries_naming_the_archive(tmp_path):
    archive = tmp_path / "evil.zip"
    make_zip(archive, {"ok.txt": b"fine", "../evil.txt": b"owned"})
    with pytest.raises(asset_folders.UnsafeArchiveError) as error:
        asset_folders.extract_zip(archive, tmp_path / "target")
    assert f"Refusing to extract {archive}" in str(error.value)
    assert ".partial-" not in str(error.value)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["evil.zip"]


def test_a_damaged_zip_is_named(tmp_path):
    archive = tmp_path / "damaged.zip"
    archive.write_bytes(b"PK\x03\x04 but nothing a zip needs")
    with pytest.raises(zipfile.BadZipFile, match=f"{archive} is not a readable zip file"):
        asset_folders.extract_zip(archive, tmp_path / "target")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["damaged.zip"]


def test_interrupted_extraction_leaves_nothing_trusted(registry, mirror, tmp_path, monkeypatch):
    register_fake_dataset(registry, mirror, tmp_path, DATASET_ENTRIES)
    real_save = downloads.save_verified
    calls = {"count": 0, "fail": True}

    def save_then_fail(chunks, item, *args, **kwargs):
        calls["count"] += 1
        if calls["fail"] and calls["count"] == 3:
            raise OSError("disk full (simulated)")
        return real_save(chunks, item, *args, **kwargs)

    monkeypatch.setattr(downloads, "save_verified", save_then_fail)
    with pytest.raises(OSError, match="disk full"):
        data.dogs_vs_cats_dir()
    extracted = [path for path in cached_files(tmp_path)]
    assert len(extracted) == 2 and not any(path.name == asset_folders.SEAL for path in extracted)

    calls.update(fail=False, count=0)
    folder = data.dogs_vs_cats_dir()
    assert calls["count"] == len(DATASET_ENTRIES) - 2  # only what was missing
    assert photo_bytes(folder) == DATASET_ENTRIES


def test_leftover_of_a_killed_extraction_is_ignored(registry, mirror, tmp_path):
    register_fake_dataset(registry, mirror, tmp_path, DATASET_ENTRIES)
    leftover = tmp_path / "cache" / "data" / ".dogs-vs-cats_small-0123.partial-x" / "train"
    leftover.mkdir(parents=True)
    folder = data.dogs_vs_cats_dir()
    assert ".partial-" not in str(folder)
    assert photo_bytes(folder) == DATASET_ENTRIES


# --- photos ------------------------------------------------------------------------------


def test_photos_have_a_public_source_and_no_stand_in():
    with pytest.raises(data.MissingAssetError) as error:
        data.load_photo("cat_photo")
    assert "https://raw.githubusercontent.com/ming-zhao/ming-zhao.github.io/" in str(error.value)
    assert "images/cat.jpg" in str(error.value) and "stands in" not in str(error.value)


def test_test_photos_are_downloaded_in_one_batch(registry, origin, capfd, monkeypatch):
    names = [f"test_photo/{animal}.1500.jpg" for animal in ("cat", "dog")]
    photos = [
        fake_asset(name, name.encode(), url=f"https://files.example.test/{name}") for name in names
    ]
    registry(*photos)
    for photo in photos:
        origin(photo.url, photo.name.encode())
    monkeypatch.setattr(assets, "TEST_PHOTO_NAMES", names)
    paths = data.test_photo_paths()
    assert [path.read_bytes() for path in paths] == [name.encode() for name in names]
    assert capfd.readouterr().err.count("Downloading") == 1


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


def test_status_without_a_mirror_names_a_public_source_for_every_file(capsys):
    assert data.main(["status"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert len(rows) == len(assets.ASSETS)
    assert all(" download https://" in row for row in rows), rows
    dogs = next(row for row in rows if row.startswith("dogs_vs_cats_small"))
    assert "download https://raw.githubusercontent.com/4GeeksAcademy/" in dogs
    assert dogs.endswith("/train/<name> (4,000 files)")


def test_status_into_a_closed_pipe_ends_quietly():
    status = subprocess.Popen(
        [sys.executable, "-m", "lib.data", "status"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    status.stdout.close()  # as `| head -1` does once it has its line
    _, err = status.communicate(timeout=120)
    assert status.returncode == 1 and b"Traceback" not in err and b"BrokenPipe" not in err


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


def test_verify_online_reports_each_source_and_fails_on_a_wrong_one(registry, origin, capsys):
    good = fake_asset("good", b"good", url="https://files.example.test/good.bin")
    bad = fake_asset("bad", b"bad", url="https://files.example.test/bad.bin")
    registry(good, bad, fake_asset("no_source", b"x"))
    origin(good.url, b"good")
    origin(bad.url, b"bad", fault="wrong-bytes")

    assert data.main(["verify-online"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"ok      good: {good.url} (1 file(s), digests match)"
    assert out.splitlines()[1] == (
        f"FAILED  bad: {bad.url}: other bytes: SHA-256 {sha256(b'dab')}, expected {sha256(b'bad')}"
    )
    assert out.splitlines()[2] == "FAILED  no_source: no public source"
    assert "2 of 3 public sources failed" in err
    assert data.main(["verify-online", "good"]) == 0


# --- the Data page's table -----------------------------------------------------------------


def test_source_table_has_one_row_per_asset_with_the_keys_the_page_reads():
    rows = data.source_table()
    assert [row["name"] for row in rows] == list(assets.ASSETS)
    keys = ["name", "file", "url", "sha256", "size", "licence", "taken_from"]
    assert all(list(row) == keys for row in rows)
    assert all(row["url"].startswith("https://") and row["licence"] for row in rows)
    assert all(isinstance(row["size"], int) for row in rows)
    assert {row["taken_from"] for row in rows} == {"download"}
    by_name = {row["name"]: row for row in rows}
    assert by_name["mnist"]["sha256"] == assets.KERAS_MNIST_SHA256
    assert by_name["vgg16_weights_notop"]["sha256"] == "MD5 6d6bbae143d832006294945121d1f1fc"
    dogs = by_name["dogs_vs_cats_small"]
    assert (
        dogs["url"]
        == f"https://github.com/{assets.DOGS_VS_CATS_REPO}/tree/{assets.DOGS_VS_CATS_COMMIT}/train"
    )
    assert dogs["file"].startswith("dogs-vs-cats_small/ (4,000 files, listed in lib/")
    assert dogs["size"] == 31968419
    manifest = assets.get_asset("dogs_vs_cats_small").members.manifest
    assert dogs["sha256"] == sha256(manifest.read_bytes())


def test_source_table_says_where_a_download_came_from_and_when(registry, origin):
    registry(fake_asset("notes", b"notes", url=URL), fake_asset("gone", b"g", url=URL + "x"))
    origin(URL, b"notes")
    data.prepare(["notes"])
    with pytest.raises(data.MissingAssetError):
        data.fetch("gone")
    rows = {row["name"]: row for row in data.source_table()}
    today = asset_files.today()
    assert rows["notes"]["taken_from"] == f"cache (downloaded from {URL} on {today})"
    assert rows["notes"]["size"] == 5 and rows["notes"]["sha256"] == sha256(b"notes")
    assert rows["gone"]["taken_from"] == "missing"


# --- the real registry and the real mirror -------------------------------------------


def test_registry_has_every_asset_the_conventions_name():
    photos = [f"test_photo/cat.{n}.jpg" for n in range(1500, 1511)]
    photos += [f"test_photo/dog.{n}.jpg" for n in range(1500, 1510)]
    expected = ["mnist", "dogs_vs_cats_small", "imagenet_class_index", "cat_photo"]
    expected += ["elephant_photo", "cat_and_dog_photo", *photos]
    expected += ["vgg16_weights", "vgg16_weights_notop"]  # optional: not in the mirror
    assert list(assets.ASSETS) == expected


def test_every_asset_has_a_public_source_size_and_licence():
    for asset in assets.ASSETS.values():
        assert asset.url or asset.members, asset.name
        assert asset.size and asset.licence, asset.name
    pinned = [
        asset.url for asset in assets.ASSETS.values() if "githubusercontent" in str(asset.url)
    ]
    assert pinned and all(assets.COURSE_COMMIT in url for url in pinned)
    assert assets.DOGS_VS_CATS_COMMIT in assets.get_asset("dogs_vs_cats_small").members.url


def test_mnist_accepts_the_digest_keras_checks():
    mnist = assets.ASSETS["mnist"]
    assert mnist.url_sha256 == assets.KERAS_MNIST_SHA256 and mnist.url_sha256 in mnist.sha256
    spec = importlib.util.find_spec("keras")
    source = Path(spec.origin).parent / "src" / "datasets" / "mnist.py" if spec else None
    if source is None or not source.is_file():
        pytest.skip("keras's mnist loader is not installed here")
    assert assets.KERAS_MNIST_SHA256 in source.read_text()


@needs_real_mirror
def test_registry_matches_the_mirror_checksums():
    listed = {}
    for line in (REAL_MIRROR / "SHA256SUMS").read_text().splitlines():
        digest, filename = line.split("  ")
        listed[filename] = digest
    registered = {asset.filename: asset for asset in assets.ASSETS.values() if asset.sha256}
    assert sorted(registered) == sorted(listed)
    for filename, digest in listed.items():
        assert digest in registered[filename].sha256
        if not registered[filename].url_sha256:  # the size is the mirror file's
            assert (REAL_MIRROR / filename).stat().st_size == registered[filename].size


@needs_real_mirror
def test_the_manifest_lists_every_photo_of_the_mirrors_zip():
    asset = assets.get_asset("dogs_vs_cats_small")
    files, _ = assets.read_manifest(asset.members.manifest)
    with zipfile.ZipFile(REAL_MIRROR / asset.filename) as archive:
        members = {
            info.filename.removeprefix("dogs-vs-cats_small/"): (
                sha256(archive.read(info)),
                info.file_size,
            )
            for info in archive.infolist()
        }
    assert members == files and len(files) == 4000


@pytest.fixture
def real_mirror(monkeypatch):
    monkeypatch.setenv("CONVNETS_DATA", str(REAL_MIRROR))


@needs_real_mirror
def test_every_asset_resolves_from_the_real_mirror(real_mirror, tmp_path):
    paths = data.prepare()  # the VGG16 weights fall back to EfficientNet-Lite0
    assert set(paths) == {name for name, asset in assets.ASSETS.items() if asset.sha256}
    folder = paths.pop("dogs_vs_cats_small")  # extracted from the mirror's zip, verified
    assert folder.is_relative_to(tmp_path / "cache") and folder.name == "dogs-vs-cats_small"
    assert all(path.is_relative_to(REAL_MIRROR) for path in paths.values())
    rows = {row["name"]: row for row in data.source_table()}
    assert rows["mnist"]["sha256"] == assets.MIRROR_MNIST_SHA256
    assert {row["taken_from"] for name, row in rows.items() if "vgg16" not in name} == {"mirror"}


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
    assert capsys.readouterr().out == ""
    assert data.imagenet_class_index()["0"] == ["n01440764", "tench"]


@needs_real_mirror
def test_dogs_vs_cats_dir_from_the_real_mirror_and_the_zip_a_mirror_build_writes(
    real_mirror, tmp_path
):
    folder = data.dogs_vs_cats_dir()
    counts = {split: len(list((folder / split / "cats").glob("*.jpg"))) for split in data.SPLITS}
    assert counts == {"train": 1000, "validation": 500, "test": 500}
    built = tmp_path / "built.zip"
    asset_folders.write_zip(assets.get_asset("dogs_vs_cats_small"), built)
    digest = cache_files.sha256_of(built)
    assert digest == assets.BUILT_DOGS_VS_CATS_ZIP_SHA256  # the same on every machine


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
    assert len(rows) == len(assets.ASSETS)
    in_mirror = [row for row in rows if not row.startswith("vgg16_weights")]
    assert len(in_mirror) == len(assets.ASSETS) - 2
    assert all(f"mirror {REAL_MIRROR}" in row for row in in_mirror)
