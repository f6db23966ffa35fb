"""Every asset's source at once: the Data page's table, the status, the online check, a mirror.

These look at the whole registry without changing what a chapter gets:
:func:`source_table` (the rows of the book's Data page, generated at every
build, never typed), :func:`print_status` (where each file would come from
now), :func:`verify_online` (are the public sources still there, byte for
byte?) and :func:`build_mirror` (an offline copy of every file, made on a
connected machine). ``python -m lib.data`` calls them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from lib import asset_files, asset_folders, assets, downloads
from lib.asset_files import DATA_ENV, MissingAssetError, cache_file, in_mirror, mirror_file
from lib.assets import Asset, member_files
from lib.cache_files import sha256_of
from lib.downloads import ORIGIN_ENV, ChecksumError

# --- the Data page ------------------------------------------------------------------------


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
    rows = assets.ASSETS.values()
    return [_folder_row(asset) if asset.members else _file_row(asset) for asset in rows]


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
    if in_mirror(asset):
        path = mirror_file(asset)
        return ("mirror", path) if asset_files.accepted(asset, path) else ("missing", None)
    cached, record = cache_file(asset), asset_files.provenance().get(asset.filename, {})
    if cached.is_file() and asset_files.accepted(asset, cached):
        stat = cached.stat()
        if (record.get("size"), record.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns):
            return f"cache (downloaded from {record['url']} on {record['date']})", cached
        return "cache", cached
    if asset.url and "failed" not in record:
        return "download", None
    return ("embedded stand-in" if asset_files.embedded_available(asset) else "missing"), None


def _folder_row(asset: Asset) -> dict:
    """The Data page's one row for an archive asset's files, as a whole."""
    files = member_files(asset)
    seal, complete = asset_folders.read_seal(asset), asset_folders.is_intact(asset)
    if complete and seal.get("source") == "download":
        taken_from = f"cache (downloaded from {seal['from']} on {seal['date']})"
    elif complete:
        taken_from = "mirror" if seal.get("source") == "mirror" else "cache"
    else:
        taken_from = "mirror" if in_mirror(asset) else "download"
    described = (
        f"{asset.members.root}/ ({len(files):,} files, listed in lib/{asset.members.manifest.name})"
    )
    return {"name": asset.name, "file": described, "url": asset.members.source,
            "sha256": assets.manifest_digest(asset), "size": sum(s for _, s in files.values()),
            "licence": asset.licence, "taken_from": taken_from}  # fmt: skip


# --- where each asset would come from now ----------------------------------------------------


def print_status() -> None:
    """A table of every asset and where it would come from now."""
    origin = os.environ.get(ORIGIN_ENV, "").strip()
    header = f"{DATA_ENV}={os.environ.get(DATA_ENV, '')}   cache: {asset_files.data_dir()}"
    print(header + (f"   {ORIGIN_ENV}={origin}" if origin else ""))
    name_width = max(len(name) for name in assets.ASSETS)
    file_width = max(len(asset.filename) for asset in assets.ASSETS.values())
    print(f"{'asset':<{name_width}}  {'file':<{file_width}}  source now")
    for asset in assets.ASSETS.values():
        print(f"{asset.name:<{name_width}}  {asset.filename:<{file_width}}  {_source_now(asset)}")


def _source_now(asset: Asset) -> str:
    """Where ``fetch`` would get the asset from now, without downloading or deleting."""
    if asset.members is not None:
        return _folder_source_now(asset)
    if in_mirror(asset):
        path = mirror_file(asset)
        ok = asset_files.accepted(asset, path)
        return f"mirror {path}" + ("" if ok else "  (WRONG CHECKSUM: will be refused)")
    cached = cache_file(asset)
    if cached.is_file():
        ok = asset_files.accepted(asset, cached)
        return f"cache {cached}" + ("" if ok else "  (WRONG CHECKSUM: will be deleted)")
    if asset.url:
        return f"download {asset.url}"
    if asset_files.embedded_available(asset):
        return f"embedded default {asset.embedded}()"
    return f"MISSING (no public source: set {DATA_ENV})"


def _folder_source_now(asset: Asset) -> str:
    """Where an archive asset's folder would come from now (names and sizes checked only)."""
    files = member_files(asset)
    root = asset_files.folder_home(asset) / asset.members.root
    if asset_folders.is_intact(asset):
        return f"cache {root} ({len(files):,} files)"
    if in_mirror(asset):
        return f"mirror {mirror_file(asset)} ({len(files):,} files, extracted when first used)"
    found = asset_folders.listing(root)
    present = sum(found.get(path) == size for path, (_, size) in files.items())
    kept = f", {present:,} already in the cache" if present else ""
    return f"download {asset.members.url.format(name='<name>')} ({len(files):,} files{kept})"


# --- the public sources, checked online ------------------------------------------------------


def verify_online(names=None) -> list[str]:
    """Download every public source (all assets by default) into a temporary folder and
    compare digests; print one line per asset; return the failures' lines.

    All of the 4,000 Dogs vs. Cats photos are downloaded and checked (``WORKERS``
    at a time), not a sample: the book needs every one. Nothing is kept.
    """
    failures = []
    with tempfile.TemporaryDirectory(prefix="convnets-verify-") as folder:
        batches = {asset: _public_items(asset, Path(folder)) for asset in assets.selected(names)}
        items = [item for batch in batches.values() for item in batch]
        errors = downloads.download_all(items, "every public source")
        for asset, batch in batches.items():
            failed = [(item, errors[item]) for item in batch if item in errors]
            line = _verdict(asset, batch, failed)
            print(line, flush=True)
            if not line.startswith("ok"):
                failures.append(line)
    return failures


def _public_items(asset: Asset, folder: Path) -> list[downloads.Download]:
    """What downloading the asset's public source means: its file, or each of its members."""
    if asset.members is not None:
        return asset_folders.member_downloads(asset, folder)
    if not asset.url:
        return []
    return [downloads.Download(asset.url, folder / asset.filename, asset.sha256, asset.md5,
                               asset.size)]  # fmt: skip


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


# --- an offline mirror -------------------------------------------------------------------------


def build_mirror(directory: Path) -> list[str]:
    """Copy every asset into ``directory`` and write its SHA256SUMS; return what failed.

    An archive asset that no mirror or cache has as a zip is zipped from its
    verified (downloaded) folder, in bytes the registry accepts.
    """
    directory.mkdir(parents=True, exist_ok=True)
    sums, failures = [], []
    for asset in assets.ASSETS.values():
        destination = directory / asset.filename
        try:
            if asset.members:
                source = asset_folders.local_archive(asset)
            else:
                source = asset_files.fetch(asset.name)
            if source is None:
                asset_folders.write_zip(asset, destination)
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
