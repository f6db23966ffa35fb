"""An archive asset as a folder of verified files: the 4,000 Dogs vs. Cats photos.

A mirror holds the photos in one zip; online, each is downloaded alone from a
public repository at a fixed commit. The asset's manifest
(``lib/dogs_vs_cats_small.sha256``) lists every photo's SHA-256 and size, and
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
tests/test_online.py rehearses it against a local stand-in for the hosts;
``verify-online`` checks the real hosts weekly, where there is internet.

Zips are read entry by entry, each entry checked to stay inside its folder
before anything is written; :func:`write_zip` makes the zip a mirror holds,
the same bytes on every machine.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from lib import asset_files, downloads
from lib.asset_files import folder_home, mirror_dir, today
from lib.assets import Asset, get_asset, manifest_digest, member_files
from lib.cache_files import atomic_path, sha256_of, write_json
from lib.config import is_temporary
from lib.downloads import ChecksumError

SEAL = ".verified.json"  # written beside a folder of files once every digest was checked


class UnsafeArchiveError(ValueError):
    """A zip entry would be written outside the folder it is extracted into."""


def asset_folder(name: str, *, full_check: bool = False) -> Path:
    """The folder of an archive asset's files, checked against its manifest and repaired.

    Each call compares every file's name and size with the manifest, after the
    seal a full verification wrote; without a valid seal, or with
    ``full_check`` (``check`` does), every digest is computed. Unexpected or
    damaged files are deleted; missing ones are extracted from the mirror's
    (or the cache's) zip, else downloaded, then the seal is written.
    """
    asset = get_asset(name)
    home = folder_home(asset)
    root = home / asset.members.root
    if not full_check and is_intact(asset):
        return root
    seal = read_seal(asset)
    (home / SEAL).unlink(missing_ok=True)
    existed = root.is_dir()
    missing = _check_every_file(asset, root)
    if missing:
        seal = _restore(asset, root, missing, repairing=existed)
    write_json(home / SEAL, {**seal, "manifest": manifest_digest(asset), "verified": today()})
    return root


def read_seal(asset: Asset) -> dict:
    """The seal beside the folder if it is for this manifest (else ``{}``): how it was filled."""
    try:
        seal = json.loads((folder_home(asset) / SEAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return seal if seal.get("manifest") == manifest_digest(asset) else {}


def is_intact(asset: Asset) -> bool:
    """Whether the folder is sealed for this manifest and every name and size agrees with it.

    No digest is computed: this is the check made at each use.
    """
    root = folder_home(asset) / asset.members.root
    return bool(read_seal(asset)) and listing(root) == expected_listing(member_files(asset))


def _check_every_file(asset: Asset, root: Path) -> list[str]:
    """Check every digest: delete damaged and unexpected files; return what is missing now."""
    files = member_files(asset)
    found = listing(root)
    expected = expected_listing(files)
    unexpected = sorted(path for path in found if path not in expected)
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
        if found.get(path) != size or sha256_of(root / path) != digest:
            (root / path).unlink(missing_ok=True)
            missing.append(path)
    return missing


def _restore(asset: Asset, root: Path, missing: list[str], *, repairing: bool) -> dict:
    """Extract ``missing`` from a local zip, else download them; return the seal's source."""
    archive = local_archive(asset)
    source = str(archive) if archive else asset.members.source
    if repairing:
        total = len(member_files(asset))
        _note(f"{len(missing)} of the {total} files of {asset.name} in {root} were missing "
              f"or damaged; restoring them from {source}.")  # fmt: skip
    if archive is not None:
        _extract_members(asset, archive, root, missing)
        mirror = mirror_dir()
        where = "mirror" if mirror and archive.is_relative_to(mirror) else "cache"
        return {"source": where, "from": source}
    _download_members(asset, root, missing)
    return {"source": "download", "from": source, "date": today()}


def local_archive(asset: Asset) -> Path | None:
    """The asset's verified zip in the mirror or the cache, if there is one."""
    try:
        return asset_files.local_file(asset)
    except ChecksumError:
        if asset_files.in_mirror(asset):
            raise  # a wrong mirror must be fixed, not worked around
        return None  # the wrong cached zip was deleted: download the files instead


def _extract_members(asset: Asset, archive: Path, root: Path, missing: list[str]) -> None:
    """Extract the ``missing`` files from ``archive``, each verified against the manifest."""
    files = member_files(asset)
    with open_zip(archive) as zip_file:
        for entry in zip_file.infolist():
            check_inside(entry.filename, root.parent, archive)
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
    items = member_downloads(asset, root.parent, missing)
    failures = downloads.download_all(items, f"{asset.name}'s files")
    if failures:
        examples = [asset_files.failure_reason(error) for error in list(failures.values())[:3]]
        reason = (
            f"{len(failures)} of {len(items)} downloads failed (the others are kept: "
            "a re-run fetches only what is missing), e.g.\n" + "\n".join(examples)
        )
        raise asset_files.missing_error([(asset, reason)])


def member_downloads(asset: Asset, folder: Path, paths=None) -> list[downloads.Download]:
    """Each of the asset's files (or those at ``paths``) as a download from its public URL
    into ``folder``'s copy of the archive's top folder."""
    files = member_files(asset)
    return [
        downloads.Download(
            asset.members.url.format(name=PurePosixPath(path).name),
            folder / asset.members.root / path,
            (files[path][0],),
            size=files[path][1],
        )
        for path in (files if paths is None else paths)
    ]


def _note(message: str) -> None:
    """A note on stderr: what the data layer repaired, not a fact of the chapter's output."""
    print(f"Note: {message}", file=sys.stderr, flush=True)


# --- listings of folders, and zip archives -----------------------------------------------


def expected_listing(files: dict[str, tuple[str, int]]) -> dict[str, int | None]:
    """What ``listing`` of a complete folder returns: every file's size, every folder."""
    folders = {str(parent) for path in files for parent in PurePosixPath(path).parents}
    return {**dict.fromkeys(folders - {"."}), **{path: size for path, (_, size) in files.items()}}


def listing(root: Path) -> dict[str, int | None]:
    """Every file (relative path -> size) and folder (-> None) under ``root``, temporaries aside."""
    found: dict[str, int | None] = {}
    for current, folders, names in os.walk(root):
        relative = Path(current).relative_to(root)
        folders[:] = [name for name in folders if not is_temporary(name)]
        found.update(dict.fromkeys((relative / name).as_posix() for name in folders))
        for name in names:
            if not is_temporary(name):
                found[(relative / name).as_posix()] = Path(current, name).stat().st_size
    return found


def write_zip(asset: Asset, destination: Path) -> None:
    """Zip the asset's verified folder into ``destination``, the same bytes on every machine.

    Entries are stored (JPEGs do not compress), in the manifest's order, dated
    1980-01-01 with fixed permissions: the digest is known in advance
    (``BUILT_DOGS_VS_CATS_ZIP_SHA256``), so a mirror built online is accepted.
    """
    root = asset_folder(asset.name)
    with atomic_path(destination) as partial, zipfile.ZipFile(partial, "w") as zip_file:
        for path in member_files(asset):
            info = zipfile.ZipInfo(f"{asset.members.root}/{path}", (1980, 1, 1, 0, 0, 0))
            info.create_system, info.external_attr = 3, 0o644 << 16
            zip_file.writestr(info, (root / path).read_bytes())


def open_zip(archive: Path) -> zipfile.ZipFile:
    """``zipfile.ZipFile(archive)``, its damage reported with the archive's name."""
    try:
        return zipfile.ZipFile(archive)
    except zipfile.BadZipFile as error:
        raise zipfile.BadZipFile(f"{archive} is not a readable zip file ({error})") from None


def check_inside(entry: str, folder: Path, archive: Path) -> None:
    """Refuse a zip entry that would land outside ``folder`` (absolute path or '..')."""
    posix = PurePosixPath(entry.replace("\\", "/"))
    has_drive = PureWindowsPath(entry).drive != ""  # "C:evil.txt" on Windows
    escapes = posix.is_absolute() or ".." in posix.parts or has_drive
    if escapes or not (folder / posix).resolve().is_relative_to(folder.resolve()):
        raise UnsafeArchiveError(
            f"Refusing to extract {archive}: its entry {entry!r} would be written outside "
            "the folder it is extracted into. The archive is unsafe; nothing was extracted."
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
        with open_zip(archive) as zip_file:
            for entry in zip_file.infolist():
                check_inside(entry.filename, partial, archive)
            try:
                zip_file.extractall(partial)
            except zipfile.BadZipFile as error:
                raise zipfile.BadZipFile(f"{archive} is damaged: {error}") from None
        try:
            partial.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            shutil.rmtree(partial)  # another process finished first; use its copy
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
