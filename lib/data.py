"""Every external file the book uses, verified: what the chapters and the command line call.

Chapters never download anything themselves: they ask this module for an
asset by name (``fetch``, ``load_mnist``, ``load_photo``, ``test_photo_paths``,
``dogs_vs_cats_dir``, ``imagenet_class_index``) and get a file checked against
its digest, from the ``CONVNETS_DATA`` mirror, the cache or its public source.
``prepare`` provides every asset at once and raises one
:class:`MissingAssetError` naming all that cannot be had, so that a build
fails before its first chapter, not in the middle of one.

The data layer, one concern per module: :mod:`lib.assets` the registry (each
file's pinned public source, digests, size and licence); :mod:`lib.asset_files`
one file's resolution (mirror, cache, download) and the error that says how to
provide it; :mod:`lib.asset_folders` the folder of many files (the Dogs vs.
Cats photos, checked against a manifest and repaired); :mod:`lib.data_sources`
the whole registry at once (the Data page, the status, the online check, a
mirror); :mod:`lib.downloads` the HTTP; :mod:`lib.cache_files` digests and
atomic writes.

Command line (``python -m lib.data ...``): ``status`` shows where each asset
would come from, ``check`` fetches and verifies everything (exit 1 listing
what cannot be had), ``mirror DIR`` builds a mirror directory on a connected
machine, ``verify-online`` downloads every public source to a temporary
folder and compares digests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

from lib import assets, data_sources
from lib.asset_files import (
    MissingAssetError,
    cache_file,
    download_to_cache,
    embedded_available,
    failure_reason,
    fetch,
    in_mirror,
    local_file,
    missing_error,
)
from lib.asset_folders import asset_folder
from lib.assets import Asset, get_asset
from lib.data_sources import source_table  # noqa: F401 (the Data page calls data.source_table)
from lib.downloads import ChecksumError

SPLITS = ("train", "validation", "test")  # the folders of dogs_vs_cats_dir()


# --- helpers the chapters call -----------------------------------------------------------


def load_mnist():
    """MNIST as ``((x_train, y_train), (x_test, y_test))`` uint8 arrays, like Keras's loader."""
    with np.load(fetch("mnist"), allow_pickle=False) as arrays:
        return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def imagenet_class_index() -> dict[str, list[str]]:
    """The ImageNet class index: ``{"0": ["n01440764", "tench"], ...}``."""
    return json.loads(fetch("imagenet_class_index").read_text(encoding="utf-8"))


def load_photo(name: str) -> np.ndarray:
    """A photo asset as an RGB uint8 array.

    No stand-in photo: every photo has a public source, and a different photo
    would silently change the chapter's numbers.
    """
    from PIL import Image

    with Image.open(fetch(name)) as image:
        return np.asarray(image.convert("RGB"))


def test_photo_paths() -> list[Path]:
    """The 20 test photos the chapters predict on: cat.1500-1509, then dog.1500-1509."""
    _prefetch(assets.TEST_PHOTO_NAMES)
    return [fetch(name) for name in assets.TEST_PHOTO_NAMES]


def _prefetch(names) -> None:
    """Download the assets in ``names`` that no mirror or cache has in one batch (one
    progress report, not twenty); raise one MissingAssetError naming any failure."""
    absent = [
        asset
        for asset in map(get_asset, names)
        if asset.url and not (in_mirror(asset) or cache_file(asset).is_file())
    ]
    failures = download_to_cache(absent)
    if failures:
        raise missing_error([(asset, failure_reason(error)) for asset, error in failures.items()])


def dogs_vs_cats_dir() -> Path:
    """The Dogs vs. Cats subset: the verified folder holding train/, validation/, test/."""
    return asset_folder("dogs_vs_cats_small")


# --- every asset at once: the build's fail-fast check ----------------------------------


def prepare(names=None) -> dict[str, Path]:
    """Provide every asset (all by default); raise one MissingAssetError naming all missing.

    Returns each asset's file; for an archive asset, its verified folder.
    """
    found, problems = _try_all(names)
    if problems:
        raise missing_error(problems)
    return found


def missing_assets(names=None) -> list[Asset]:
    """The assets that no mirror, cache, embedded default or download can provide.

    Downloads what it can on the way, so a connected machine fills its cache.
    """
    return [asset for asset, _ in _try_all(names)[1]]


def _try_all(names) -> tuple[dict[str, Path], list[tuple[Asset, str | None]]]:
    """Provide each asset (single files in one download batch, then folders, every digest
    checked); return the files found and the assets that cannot be provided."""
    selected = assets.selected(names)
    found, problems = _provide_files([asset for asset in selected if asset.members is None])
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


def _provide_files(files: list[Asset]) -> tuple[dict[str, Path], list[tuple[Asset, str | None]]]:
    """Single files: each verified local copy, the others downloaded in one batch (an asset
    with an embedded stand-in may fail); return the files and what cannot be provided."""
    found, problems, pending = {}, [], []
    for asset in files:
        try:
            local = local_file(asset)
        except ChecksumError as error:
            if not asset.url or in_mirror(asset):
                problems.append((asset, str(error)))
                continue
            local = None  # the wrong cached copy is deleted: download it again
        if local is not None:
            found[asset.name] = local
        elif asset.url:
            pending.append(asset)
        elif not embedded_available(asset):
            problems.append((asset, None))
    for asset, error in download_to_cache(pending).items():
        if not embedded_available(asset):
            problems.append((asset, failure_reason(error)))
    downloaded = {asset.name: cache_file(asset) for asset in pending}
    found.update({name: path for name, path in downloaded.items() if path.is_file()})
    return found, problems


# --- command line ------------------------------------------------------------------------


def _status_command(args) -> int:
    """``status``: where each asset would come from now, without downloading anything."""
    data_sources.print_status()
    return 0


def _check_command(args) -> int:
    """``check``: provide and verify every asset; exit 1 listing what cannot be had."""
    try:
        found = prepare()
    except MissingAssetError as error:
        print(error, file=sys.stderr)
        return 1
    stand_ins = [name for name in assets.ASSETS if name not in found]
    note = f" ({', '.join(stand_ins)} from embedded defaults)" if stand_ins else ""
    print(f"All {len(assets.ASSETS)} assets are available{note}.")
    return 0


def _mirror_command(args) -> int:
    """``mirror DIR``: build a mirror directory; exit 1 listing what could not be had."""
    failures = data_sources.build_mirror(args.directory)
    print(f"Wrote {args.directory / 'SHA256SUMS'}.")
    if failures:
        print(f"{len(failures)} assets could not be obtained:", file=sys.stderr)
        print("\n".join(f"  {failure}" for failure in failures), file=sys.stderr)
        return 1
    return 0


def _verify_online_command(args) -> int:
    """``verify-online [NAME...]``: check the public sources; exit 1 if any differs."""
    failures = data_sources.verify_online(args.names or None)
    total = len(args.names or assets.ASSETS)
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
    commands = {"status": _status_command, "check": _check_command,
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
