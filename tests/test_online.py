"""The online path, rehearsed offline: every public file served on 127.0.0.1 at its URL's path.

``CONVNETS_DOWNLOAD_ORIGIN`` sends every download of ``https://HOST/PATH`` to
the stand-in (tests/origin_server.py), which serves the offline mirror's files
(``../shared/data``) where the public hosts have them: the registry's single
files, and each of the 4,000 Dogs vs. Cats photos at its raw GitHub path,
read from the mirror's zip. The mirror's ``mnist.npz`` holds Keras's arrays in
other bytes; the registry accepts its digest, so no test overrides anything.
Nothing is served for VGG16's weights: the book falls back to EfficientNet-Lite0.

The first test runs ``python -m lib.data check`` as a reader without a mirror
would, then compares the folder it assembled with the mirror's zip. The other
tests make the stand-in misbehave as real hosts do. Everything is bounded: the
server stops with the session, and every download has short time-outs here.
"""

import hashlib
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from origin_server import origin_path, serve
from origin_server import public_files as mirror_public_files

from lib import asset_files, assets, cache_files, data, downloads

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REAL_MIRROR = PROJECT_ROOT.parent / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not (REAL_MIRROR / "SHA256SUMS").is_file(),
    reason=f"no offline mirror at {REAL_MIRROR} to serve the public files from",
)
DOGS = assets.get_asset("dogs_vs_cats_small")
PHOTO_PATH_PREFIX = origin_path(DOGS.members.url.format(name=""))


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture(scope="session")
def public_files() -> dict[str, bytes | Path]:
    """Every public source but VGG16's, keyed by its URL's ``HOST/PATH``, from the mirror."""
    return mirror_public_files()


@pytest.fixture(scope="session")
def origin(public_files):
    with serve(public_files) as server:
        yield server


def photo_requests(server) -> int:
    return sum(n for path, n in server.requests.items() if path.startswith(PHOTO_PATH_PREFIX))


@pytest.fixture(scope="module")
def checked_cache(origin, tmp_path_factory):
    """A cache filled by ``python -m lib.data check`` from the stand-in: no mirror, empty cache.

    Returns the cache, the command's result, its seconds and the photo requests it made.
    """
    cache = tmp_path_factory.mktemp("online") / "cache"
    env = {**os.environ, downloads.ORIGIN_ENV: origin.url, "CONVNETS_CACHE": str(cache)}
    env.pop(asset_files.DATA_ENV, None)
    before, started = photo_requests(origin), time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "lib.data", "check"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.monotonic() - started
    photos = [line for line in result.stderr.splitlines() if "dogs_vs_cats_small's" in line]
    print(f"\ncheck from the stand-in: {seconds:.1f} s, {photo_requests(origin) - before} photo "
          f"requests; {photos[-1] if photos else result.stderr[-500:]}")  # fmt: skip
    return cache, result, seconds, photo_requests(origin) - before


@pytest.fixture
def online(origin, checked_cache, monkeypatch):
    """This process set up as the check's: the stand-in as origin, its cache, no mirror."""
    monkeypatch.setenv(downloads.ORIGIN_ENV, origin.url)
    monkeypatch.setenv("CONVNETS_CACHE", str(checked_cache[0]))
    monkeypatch.delenv(asset_files.DATA_ENV, raising=False)
    return origin


def test_check_downloads_everything_and_assembles_the_mirrors_photos(checked_cache, online):
    cache, result, seconds, requests = checked_cache
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"All {len(assets.ASSETS)} assets are available "
        "(vgg16_weights, vgg16_weights_notop from embedded defaults)."
    )
    assert requests == 4000  # one request per photo: no retries against a healthy host
    assert seconds < 120

    folder = data.dogs_vs_cats_dir()
    assert folder.is_relative_to(cache)
    with zipfile.ZipFile(REAL_MIRROR / DOGS.filename) as archive:
        expected = {info.filename: sha256(archive.read(info)) for info in archive.infolist()}
    assembled = {
        f"{DOGS.members.root}/{path.relative_to(folder).as_posix()}": cache_files.sha256_of(path)
        for path in folder.rglob("*")
        if path.is_file()
    }
    assert assembled == expected  # the mirror's fingerprint: the same bytes, file for file


def test_what_was_downloaded_is_not_downloaded_again(online):
    before = sum(online.requests.values())
    assert data.missing_assets() == []
    assert sum(online.requests.values()) - before == 2  # only VGG16's weights, asked again


def test_the_data_page_table_says_what_came_from_where(online):
    rows = {row["name"]: row for row in data.source_table()}
    today = asset_files.today()
    mnist = assets.get_asset("mnist")
    assert rows["mnist"]["taken_from"] == f"cache (downloaded from {mnist.url} on {today})"
    assert rows["mnist"]["sha256"] == assets.MIRROR_MNIST_SHA256  # what this stand-in served
    assert rows["dogs_vs_cats_small"]["taken_from"] == (
        f"cache (downloaded from {DOGS.members.source} on {today})"
    )
    assert rows["vgg16_weights"]["taken_from"] == "embedded stand-in"


def test_a_damaged_photo_folder_is_repaired(online, capsys):
    folder = data.dogs_vs_cats_dir()
    cats = sorted((folder / "train" / "cats").iterdir())
    for path in cats[:300]:
        path.unlink()
    damaged = cats[300]
    original = damaged.read_bytes()
    damaged.write_bytes(original[::-1])  # the same size: a digest is needed to see it
    before = photo_requests(online)

    assert data.dogs_vs_cats_dir() == folder
    assert photo_requests(online) - before == 301
    assert damaged.read_bytes() == original
    assert "301 of the 4000 files of dogs_vs_cats_small" in capsys.readouterr().err

    damaged.write_bytes(original[::-1])
    assert data.dogs_vs_cats_dir() == folder  # names and sizes agree: not seen at each use
    assert data.prepare(["dogs_vs_cats_small"]) == {"dogs_vs_cats_small": folder}
    assert damaged.read_bytes() == original and photo_requests(online) - before == 302


def test_verify_online_checks_public_sources(online, capsys):
    assert data.main(["verify-online", "mnist", "cat_photo", "test_photo/dog.1509.jpg"]) == 0
    out = capsys.readouterr().out
    assert out.count("\nok ") + out.startswith("ok ") == 3
    assert "All 3 public sources match" in out
    assert data.main(["verify-online", "vgg16_weights_notop"]) == 1
    assert "HTTP 404" in capsys.readouterr().out


# --- a host that misbehaves --------------------------------------------------------------


@pytest.fixture
def faulty(origin, tmp_path, monkeypatch):
    """Serve a fake asset with a fault, in an empty cache, with short time-outs and retries."""
    monkeypatch.setenv(downloads.ORIGIN_ENV, origin.url)
    monkeypatch.setenv("CONVNETS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(asset_files.DATA_ENV, raising=False)
    monkeypatch.setattr(downloads, "READ_TIMEOUT_S", 1.0)
    monkeypatch.setattr(downloads, "RETRIES", 2)
    monkeypatch.setattr(downloads, "BACKOFF_S", 0.05)

    def serve_with(name: str, fault, content: bytes = b"the real bytes" * 1000):
        url = f"https://files.example.test/faults/{name}.bin"
        origin.files[origin_path(url)] = content
        origin.faults[origin_path(url)] = fault
        asset = assets.Asset(name, f"faults/{name}.bin", (sha256(content),), "a test file", url=url)
        monkeypatch.setitem(assets.ASSETS, name, asset)
        return asset, origin_path(url)

    return serve_with


def leftovers(tmp_path) -> list[str]:
    folder = tmp_path / "cache" / "data"
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and p.name != "provenance.json")


def test_not_found_names_the_file_its_url_and_how_to_provide_it(faulty, origin):
    asset, path = faulty("gone", "404")
    with pytest.raises(data.MissingAssetError) as error:
        data.fetch(asset.name)
    message = str(error.value)
    assert f"'{asset.name}'" in message and asset.filename in message and asset.url in message
    assert "HTTP 404" in message and "set CONVNETS_DATA to a mirror directory" in message
    assert origin.requests[path] == 1  # a 404 is final: not retried


def test_wrong_bytes_are_refused_showing_both_digests(faulty, tmp_path):
    asset, _ = faulty("altered", "wrong-bytes")
    with pytest.raises(data.ChecksumError) as error:
        data.fetch(asset.name)
    assert f"expected: {asset.sha256[0]}" in str(error.value)
    content = (b"the real bytes" * 1000)[::-1]
    assert f"actual:   {sha256(content)}" in str(error.value)
    assert leftovers(tmp_path) == []


def test_a_dropped_connection_leaves_nothing_and_a_rerun_completes(faulty, origin, tmp_path):
    asset, path = faulty("dropped", "drop-halfway")
    with pytest.raises(data.MissingAssetError, match="connection dropped"):
        data.fetch(asset.name)
    assert origin.requests[path] == 3 and leftovers(tmp_path) == []
    del origin.faults[path]
    assert data.fetch(asset.name).read_bytes() == b"the real bytes" * 1000


def test_too_many_requests_is_retried_after_the_wait_asked(faulty, origin):
    asset, path = faulty("throttled", ("429", 1))
    started = time.monotonic()
    assert data.fetch(asset.name).read_bytes() == b"the real bytes" * 1000
    assert origin.requests[path] == 2 and time.monotonic() - started >= 1.0


def test_a_host_that_never_answers_times_out_within_seconds(faulty, tmp_path):
    asset, _ = faulty("silent", "hang")
    started = time.monotonic()
    message = r"sent nothing for 1 s \(read time-out\) \(2 attempts\)"  # one retry, not two
    with pytest.raises(data.MissingAssetError, match=message):
        data.fetch(asset.name)
    assert time.monotonic() - started < 10 and leftovers(tmp_path) == []
