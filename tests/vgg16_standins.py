"""Stand-ins for Keras's VGG16 ImageNet weight files, to rehearse the VGG16 path offline.

Keras's two files (with and without the classifier) cannot be downloaded here,
and their MD5 is all the registry knows of them. A stand-in is the very same
network, ``keras.applications.VGG16(weights=None)``, seeded, saved in the
layout ``keras.applications`` loads a downloaded file from: legacy HDF5, one
group per layer (``legacy_h5_format.save_weights_to_hdf5_group``), under the
registry's file name. Its weights are random, so only what comes from the
architecture (parameter counts, shapes, layer names) is the real VGG16's.

The registry's MD5 for these files is Keras's; a test that serves a stand-in
replaces it with the stand-in's MD5, in the kernel that runs the chapters only
(:func:`write_startup_file`): nothing in ``lib`` knows about stand-ins.

Making both takes about half a minute and 610 MB of disk (the file with the
classifier alone is 528 MiB, as Keras's is).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # origin_server, when imported from tools/
    sys.path.insert(0, str(HERE))

SEED = 16
ASSETS = {"vgg16_weights": True, "vgg16_weights_notop": False}  # asset name -> include_top
STARTUP_NAME = "00-vgg16-standins.py"


@dataclass(frozen=True)
class StandIn:
    """One stand-in file: the registry asset it replaces, where it is, its MD5, its URL."""

    asset: str
    path: Path
    md5: str
    url: str


def save_standin(path: Path, include_top: bool) -> None:
    """``VGG16(weights=None, include_top=...)``, seeded, as Keras's legacy weights file."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(SEED + int(include_top))
    model = keras.applications.VGG16(weights=None, include_top=include_top)
    partial = path.with_name(f".{path.name}.partial")
    with h5py.File(partial, "w") as stream:
        legacy_h5_format.save_weights_to_hdf5_group(stream, model)
    partial.replace(path)


def make_standins(folder: Path) -> dict[str, StandIn]:
    """Both stand-ins in ``folder`` (made once: an index file records them), by asset name."""
    from lib import assets, cache_files

    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "standins.json"
    if index.is_file():
        recorded = json.loads(index.read_text())
        standins = {
            name: StandIn(name, folder / entry["file"], entry["md5"], entry["url"])
            for name, entry in recorded.items()
        }
        if all(standin.path.is_file() for standin in standins.values()):
            return standins
    standins = {}
    for name, include_top in ASSETS.items():
        asset = assets.get_asset(name)
        path = folder / Path(asset.filename).name
        start = time.perf_counter()
        save_standin(path, include_top)
        standins[name] = StandIn(name, path, cache_files.md5_of(path), asset.url)
        print(
            f"stand-in {path.name}: {path.stat().st_size / 2**20:.0f} MiB "
            f"in {time.perf_counter() - start:.0f} s"
        )
    index.write_text(
        json.dumps(
            {s.asset: {"file": s.path.name, "md5": s.md5, "url": s.url} for s in standins.values()},
            indent=1,
        )
    )
    return standins


def served_files(standins: dict[str, StandIn]) -> dict[str, Path]:
    """What the origin server must answer for the stand-ins: ``{"HOST/PATH": file}``."""
    from origin_server import origin_path

    return {origin_path(standin.url): standin.path for standin in standins.values()}


STARTUP_TEMPLATE = """\
# Written by tests/vgg16_standins.py: IPython runs it as the kernel starts.
# The VGG16 assets are checked against the stand-ins' MD5 (and size) instead of Keras's.
import dataclasses as _dataclasses

from lib import assets as _assets

for _name, _changes in {changes!r}.items():
    _asset = _assets.ASSETS[_name]
    _fields = {{field.name for field in _dataclasses.fields(_asset)}}
    _changes = {{key: value for key, value in _changes.items() if key in _fields}}
    _assets.ASSETS[_name] = _dataclasses.replace(_asset, **_changes)
del _dataclasses, _assets, _name, _changes, _asset, _fields
"""


def write_startup_file(ipython_dir: Path, standins: dict[str, StandIn]) -> Path:
    """An IPython start-up file (under ``IPYTHONDIR``) that accepts the stand-ins' MD5.

    A kernel started with ``IPYTHONDIR=ipython_dir`` runs it before any cell:
    it replaces the registry's two VGG16 assets with copies whose MD5 is the
    stand-ins'. It prints nothing: a chapter whose kernel did not run it fails
    the VGG16 assets' checksum (with ``CONVNETS_BASE=vgg16``, an error).
    """
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    path = startup / STARTUP_NAME
    changes = {
        standin.asset: {"md5": standin.md5, "size": standin.path.stat().st_size}
        for standin in standins.values()
    }
    path.write_text(STARTUP_TEMPLATE.format(changes=changes))
    return path


@contextlib.contextmanager
def vgg16_environment(workdir: Path, standins_dir: Path | None = None):
    """What a kernel needs to run the chapters on VGG16 with the stand-ins, for a ``with`` block.

    Yields ``(environment, server)``: the variables to give the kernel (on top
    of ``os.environ``) and the running origin server. The kernel gets the
    smoke budget, ``CONVNETS_BASE=vgg16`` (no silent fall-back to Lite0), no
    mirror and a fresh cache under ``workdir`` (so every file is downloaded
    from the server, as a reader online gets it, and the stand-ins never
    replace a reader's real weights), and ``IPYTHONDIR`` with the start-up
    file that accepts the stand-ins' MD5. The server serves every public
    file (:func:`origin_server.public_files`) and the stand-ins. As ``make
    book`` runs ``python -m lib.data check`` before executing a chapter, the
    data files are downloaded before the block (the download report would
    otherwise land in a checked cell); the stand-ins, which only a kernel
    with the start-up file accepts, are downloaded by the chapters.
    """
    from origin_server import public_files, serve

    standins = make_standins(standins_dir or workdir / "standins")
    ipython_dir = workdir / "ipython"
    write_startup_file(ipython_dir, standins)
    with serve({**public_files(), **served_files(standins)}) as server:
        environment = {
            "CONVNETS_BUDGET": "smoke",
            "CONVNETS_BASE": "vgg16",
            "CONVNETS_CACHE": str(workdir / "cache"),
            "CONVNETS_DATA": "",
            "CONVNETS_DOWNLOAD_ORIGIN": server.url,
            "IPYTHONDIR": str(ipython_dir),
        }
        download_data_files({**os.environ, **environment})
        yield environment, server


def download_data_files(environment: dict[str, str]) -> None:
    """Every asset but the VGG16 weights, fetched into the cache as ``lib.data check`` does."""
    import subprocess

    fetch_all = (
        "import sys; from lib import assets, data; "
        f"data.prepare([name for name in assets.ASSETS if name not in {sorted(ASSETS)!r}])"
    )
    result = subprocess.run(
        [sys.executable, "-c", fetch_all],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the data files could not be downloaded:\n{result.stderr[-3000:]}")


@contextlib.contextmanager
def environment_set(variables: dict[str, str]):
    """``os.environ`` with ``variables`` for a ``with`` block (kernels inherit them)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


if __name__ == "__main__":  # python tests/vgg16_standins.py FOLDER: make them and say how long
    begin = time.perf_counter()
    made = make_standins(Path(sys.argv[1]))
    for standin in made.values():
        print(standin.asset, standin.path, standin.md5)
    print(f"{time.perf_counter() - begin:.0f} s")
