"""One asset as one verified local file: from the mirror, the cache or a download.

``fetch(name)`` looks for the file, in this order, in

1. the mirror directory named by ``CONVNETS_DATA`` (an offline copy of the
   book's files, for example ``../shared/data``; a relative path is taken from
   the project's root);
2. the local cache, ``lib.config.cache_dir() / "data"``;
3. the asset's public URL, downloaded by :mod:`lib.downloads` into the cache;

and otherwise raises :class:`MissingAssetError`, which says how to provide the
file. Every file is checked against its digest before use, mirror included: a
wrong mirror file is refused and left alone (the mirror is read-only to the
book), a wrong cached copy is deleted so that fetching again replaces it.
Every asset has a public, commit- or publisher-pinned source, so a mirror is
a convenience, never a necessity. Nothing downloaded is ever unpickled.

The cache records where and when each file was downloaded (``provenance.json``)
for the Data page. Folders of many files are :mod:`lib.asset_folders`.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
from pathlib import Path

from lib import assets, downloads
from lib.assets import Asset, get_asset
from lib.cache_files import md5_of, sha256_of, write_json
from lib.config import cache_dir, setting_path
from lib.downloads import ORIGIN_ENV, ChecksumError

DATA_ENV = "CONVNETS_DATA"
EXAMPLE_MIRROR = "../shared/data"
PROVENANCE = "provenance.json"  # in the cache: where and when each file was downloaded


class MissingAssetError(FileNotFoundError):
    """An asset is in no mirror and no cache, and cannot be downloaded."""

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)  # (asset, reason or None) pairs
        self.assets = [asset for asset, _ in self.problems]


# --- where files are kept ------------------------------------------------------------


def mirror_dir() -> Path | None:
    """The CONVNETS_DATA mirror (a relative path is taken from the project root), if named."""
    value = os.environ.get(DATA_ENV, "").strip()
    return setting_path(value) if value else None


def mirror_file(asset: Asset) -> Path | None:
    """Where the asset would sit in the CONVNETS_DATA mirror, if one is named."""
    mirror = mirror_dir()
    return mirror / asset.filename if mirror is not None else None


def in_mirror(asset: Asset) -> bool:
    """Whether the mirror has a file for the asset (verified only when it is used)."""
    path = mirror_file(asset)
    return path is not None and path.is_file()


def data_dir() -> Path:
    """The cache's folder for data: downloads, extracted and assembled files, their records."""
    return cache_dir() / "data"


def cache_file(asset: Asset) -> Path:
    """Where the asset is (or will be) kept in the local cache."""
    return data_dir() / asset.filename


def folder_home(asset: Asset) -> Path:
    """The cache folder for an archive asset's files, named after its manifest's digest."""
    return data_dir() / f"{asset.members.root}-{assets.manifest_digest(asset)[:12]}"


# --- verification and resolution -----------------------------------------------------


def accepted(asset: Asset, path: Path) -> bool:
    """Whether ``path`` has one of the asset's SHA-256 digests (or its MD5, if it has one)."""
    if sha256_of(path) in asset.sha256:
        return True
    return asset.md5 is not None and md5_of(path) == asset.md5


def _verify(asset: Asset, path: Path, consequence: str) -> None:
    """Raise ChecksumError unless ``path`` has one of the asset's accepted digests."""
    if not accepted(asset, path):
        expected = [*asset.sha256, *([f"MD5 {asset.md5}"] if asset.md5 else [])]
        raise ChecksumError(
            f"{path} (asset {asset.name!r}) has the wrong SHA-256, so it is not used.\n"
            f"  expected: {' or '.join(expected)}\n"
            f"  actual:   {sha256_of(path)}\n"
            f"  {consequence}"
        )


def local_file(asset: Asset) -> Path | None:
    """The asset's verified file in the mirror or the cache, or None; a wrong one raises.

    A wrong mirror file is left alone (the mirror is read-only to the book); a
    wrong cached copy is deleted, so that fetching again replaces it.
    """
    if in_mirror(asset):
        path = mirror_file(asset)
        _verify(asset, path, "The mirror is left as it is: replace this file there.")
        return path
    cached = cache_file(asset)
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
    local = local_file(asset)
    if local is not None:
        return local
    if asset.url is None:
        raise missing_error([(asset, None)])
    error = download_to_cache([asset]).get(asset)
    if isinstance(error, ChecksumError):
        raise error
    if error is not None:
        raise missing_error([(asset, failure_reason(error))]) from error
    return cache_file(asset)


def embedded_available(asset: Asset) -> bool:
    """Whether the package providing the asset's embedded stand-in is installed."""
    return (
        asset.embedded is not None
        and importlib.util.find_spec(asset.embedded.split(".")[0]) is not None
    )


# --- downloads into the cache, and their records ---------------------------------------


def download_to_cache(batch: list[Asset]) -> dict[Asset, Exception]:
    """Download ``batch`` into the cache under one progress report; record and return failures."""
    items = {
        asset: downloads.Download(asset.url, cache_file(asset), asset.sha256, asset.md5, asset.size)
        for asset in batch
    }
    label = batch[0].filename if len(batch) == 1 else "data files"
    failures = downloads.download_all(items.values(), label)
    _record_downloads({asset: failures.get(item) for asset, item in items.items()})
    return {asset: failures[item] for asset, item in items.items() if item in failures}


def failure_reason(error: Exception) -> str:
    """Why a download failed, in a line (a refused file's message keeps both digests)."""
    if isinstance(error, downloads.DownloadError):
        return f"download failed: {error}"
    return f"download failed: {type(error).__name__}: {error}"


def today() -> str:
    """Today's date (UTC), for the records of what was downloaded when."""
    return datetime.datetime.now(datetime.UTC).date().isoformat()


def provenance() -> dict:
    """The cache's record of downloads: file name -> url, date, and the file's size and time."""
    try:
        return json.loads((data_dir() / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _record_downloads(outcomes: dict[Asset, Exception | None]) -> None:
    """Remember where and when each file was downloaded (or that it failed), for the Data page."""
    if not outcomes:
        return
    record = provenance()
    for asset, error in outcomes.items():
        entry = {"url": asset.url, "date": today()}
        if error is None:
            stat = cache_file(asset).stat()
            entry.update(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
        else:
            entry["failed"] = str(error).splitlines()[0]
        record[asset.filename] = entry
    write_json(data_dir() / PROVENANCE, record)


# --- what to tell a reader who lacks a file ----------------------------------------------


def missing_error(problems: list[tuple[Asset, str | None]]) -> MissingAssetError:
    """One MissingAssetError listing every asset in ``problems`` and how to provide it."""
    if len(problems) == 1:
        header = f"The asset {problems[0][0].name!r} is not available. How to provide it:"
    else:
        header = f"{len(problems)} assets the book needs are not available. How to provide each:"
    blocks = [_how_to_provide(asset, reason) for asset, reason in problems]
    message = "\n".join([header, *blocks, _mirror_state()])
    return MissingAssetError(message, problems)


def _how_to_provide(asset: Asset, reason: str | None) -> str:
    """A few lines: the asset, what it is for, its file name, and the ways to provide it."""
    lines = [f"- {asset.name} (file {asset.filename}): {asset.description}."]
    if asset.members is not None:
        count = len(assets.member_files(asset))
        lines.append(
            f"    1. go online: its {count:,} files are downloaded from "
            f"{asset.members.url.format(name='<name>')}, verified, into {folder_home(asset)}"
        )
    elif asset.url:
        lines.append(
            f"    1. go online: it is downloaded from {asset.url}, verified, into "
            f"{cache_file(asset)}"
        )
    else:
        lines.append(
            "    1. going online does not help: it has no public source with a known "
            f"checksum; a verified copy may be placed at {cache_file(asset)}"
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
    elif not mirror_dir().is_dir():
        state = f"{DATA_ENV}={value} is not a directory (taken as {mirror_dir()})."
    else:
        state = f"{DATA_ENV}={value} is the mirror directory searched first."
    origin = os.environ.get(ORIGIN_ENV, "").strip()
    if origin:
        state += f"\n{ORIGIN_ENV}={origin}: every download was asked of that origin instead."
    return state
