"""One downloader for every public file the book uses: verified, retried, bounded.

The data layer (:mod:`lib.asset_files`, :mod:`lib.asset_folders`) decides
*what* to download; this module does the HTTP, and the verified save that
extracting a photo from a mirror's zip uses too. It replaces pooch, which the
data layer used before, because pooch checks a download against a single
digest (the registry accepts several for some files, MNIST's among them),
retries without honouring a server's ``Retry-After``, and has no way to fetch
thousands of small files with bounded concurrency under one progress report
(the Dogs vs. Cats photos). requests, which pooch used too, does the HTTP.

Every download

- streams into a temporary file beside its destination (``.NAME.*.tmp*``, from
  :func:`lib.cache_files.atomic_path`), computing the SHA-256 (and the MD5,
  for files whose publisher gives only that) while it writes;
- is renamed into place only when a digest is one of those accepted: a wrong,
  truncated or interrupted file is deleted and never carries the real name;
- fails at once, without retrying, when its host cannot be connected to (an
  offline machine fails in seconds), and then skips that host's other files in
  the same batch;
- retries, with exponential backoff, what a busy host does: HTTP 429 and 503
  (after their ``Retry-After``), other 5xx answers, connections dropped halfway
  and answers that stop arriving (``READ_TIMEOUT_S`` between two bytes; only
  ``TIMEOUT_RETRIES`` times, so that a host that hangs fails in seconds).

``CONVNETS_DOWNLOAD_ORIGIN=http://HOST:PORT`` fetches every ``https://SITE/PATH``
from ``http://HOST:PORT/SITE/PATH`` instead: a caching proxy, or a local server
standing in for the public hosts (tests/origin_server.py). The module constants
below are the knobs; tests make them small.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from lib.cache_files import atomic_path

ORIGIN_ENV = "CONVNETS_DOWNLOAD_ORIGIN"
CONNECT_TIMEOUT_S = 5.0  # an offline machine fails in seconds, not minutes
READ_TIMEOUT_S = 10.0  # the longest silence between two bytes of an answer
RETRIES = 4  # further attempts after a retryable failure
TIMEOUT_RETRIES = 1  # of which after a silence: a host that hangs fails in about 20 s
BACKOFF_S = 1.0  # the first wait between attempts, doubled each time
MAX_WAIT_S = 120.0  # a longer Retry-After is reported instead of waited for
WORKERS = 8  # downloads at a time in a batch: polite to one host, fast enough
CHUNK_BYTES = 1 << 16


class ChecksumError(ValueError):
    """A file's digest is not one the registry accepts, so it is not used."""


class DownloadError(OSError):
    """A file could not be downloaded. ``unreachable``: its host failed, not just the file."""

    def __init__(self, url: str, reason: str, *, unreachable: bool = False):
        super().__init__(f"{url}: {reason}")
        self.url, self.reason, self.unreachable = url, reason, unreachable


class _Retry(Exception):
    """A failure worth another attempt, after ``wait`` seconds (None: the backoff's)."""

    def __init__(self, reason: str, wait: float | None = None, *, silence: bool = False):
        super().__init__(reason)
        self.reason, self.wait, self.silence = reason, wait, silence


@dataclass(frozen=True)
class Download:
    """One file to download: its public URL, where it goes, the digests that accept it."""

    url: str
    destination: Path
    sha256: tuple[str, ...] = ()
    md5: str | None = None  # for files whose publisher gives only an MD5
    size: int | None = None  # expected bytes, for the progress report only


def download_url(url: str) -> str:
    """Where ``url`` is really fetched from: itself, or ``$CONVNETS_DOWNLOAD_ORIGIN/HOST/PATH``.

    The switch points every download at one origin (a caching proxy, or a local
    server standing in for the public hosts when the online path is rehearsed
    on a machine without internet); the files and their digests stay the same.
    """
    origin = os.environ.get(ORIGIN_ENV, "").strip().rstrip("/")
    if not origin:
        return url
    _, _, host_and_path = url.partition("://")
    return f"{origin}/{host_and_path}"


# --- one file -----------------------------------------------------------------------


def save_verified(
    chunks: Iterable[bytes],
    item: Download,
    progress: Callable[[int], None] | None = None,
    expected_bytes: int | None = None,
) -> Path:
    """Write ``chunks`` to ``item.destination`` if their digest is accepted; else keep nothing.

    The bytes go to a temporary file beside the destination, renamed into place
    only after the check, so an interrupted or refused file never has the name;
    what it added to ``progress`` is taken back.
    """
    written = 0
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    try:
        with atomic_path(item.destination) as temporary:
            with temporary.open("wb") as file:
                for chunk in chunks:
                    file.write(chunk)
                    sha256.update(chunk)
                    if item.md5:
                        md5.update(chunk)
                    written += len(chunk)
                    if progress:
                        progress(len(chunk))
            if expected_bytes is not None and written != expected_bytes:
                raise _Retry(f"connection dropped after {written} of {expected_bytes} bytes")
            _accept(item, sha256.hexdigest(), md5.hexdigest())
    except BaseException:
        if progress:
            progress(-written)
        raise
    return item.destination


def _accept(item: Download, sha256: str, md5: str) -> None:
    """Raise ChecksumError, naming both digests, unless one accepted digest matches."""
    if sha256 in item.sha256 or (item.md5 is not None and md5 == item.md5):
        return
    expected = " or ".join([*item.sha256, *([f"MD5 {item.md5}"] if item.md5 else [])])
    error = ChecksumError(
        f"{item.url} was refused: its digest is not the expected one.\n"
        f"  expected: {expected}\n"
        f"  actual:   {sha256}\n"
        "  Nothing was kept."
    )
    error.expected, error.actual = expected, sha256
    raise error


def download(item: Download, session=None, progress=None) -> Path:
    """Download ``item``, verified, retrying what a busy host does; raise DownloadError.

    A wrong digest raises ChecksumError at once: the same URL would serve the
    same wrong bytes again.
    """
    import requests

    own_session, silences = session is None, 0
    session = session or requests.Session()
    try:
        for attempt in range(RETRIES + 1):
            try:
                return _attempt(item, session, progress)
            except _Retry as retry:
                silences += retry.silence
                if attempt == RETRIES or silences > TIMEOUT_RETRIES:
                    reason = f"{retry.reason} ({attempt + 1} attempts)"
                    raise DownloadError(item.url, reason, unreachable=True) from None
                time.sleep(retry.wait if retry.wait is not None else BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        if own_session:
            session.close()


def _attempt(item: Download, session, progress) -> Path:
    """One GET: the verified file, or _Retry, DownloadError or ChecksumError."""
    import requests

    url = download_url(item.url)
    try:
        timeout = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
        with session.get(url, stream=True, timeout=timeout) as response:
            _check_status(item, response)
            encoded = "Content-Encoding" in response.headers  # then the length is not the file's
            length = response.headers.get("Content-Length", "")
            expected = int(length) if length.isdigit() and not encoded else None
            return save_verified(response.iter_content(CHUNK_BYTES), item, progress, expected)
    except requests.RequestException as error:
        raise _classify(item, url, error) from None


def _classify(item: Download, url: str, error: Exception) -> Exception:
    """Turn a requests error into DownloadError (the host cannot be reached) or _Retry."""
    import requests
    import urllib3

    reason = getattr(error.args[0], "reason", None) if error.args else None
    host = urlsplit(url).netloc
    if isinstance(error, requests.ConnectTimeout) or isinstance(
        reason, urllib3.exceptions.NewConnectionError
    ):
        detail = f"no connection within {CONNECT_TIMEOUT_S:g} s"
        if not isinstance(error, requests.ConnectTimeout):
            detail = str(reason).rpartition(": ")[2] or type(reason).__name__
        return DownloadError(item.url, f"cannot connect to {host} ({detail})", unreachable=True)
    if isinstance(error, requests.Timeout) or "timed out" in str(error).lower():
        return _Retry(f"{host} sent nothing for {READ_TIMEOUT_S:g} s (read time-out)", silence=True)
    return _Retry(f"connection dropped ({type(error).__name__}: {str(error)[:100]})")


def _check_status(item: Download, response) -> None:
    """Accept HTTP 200; retry 429, 503 and other 5xx; anything else is final."""
    status = response.status_code
    if status == 200:
        return
    reason = f"HTTP {status} {response.reason}"
    if status in (429, 503):
        wait = _retry_after(response)
        if wait is not None and wait > MAX_WAIT_S:
            reason += f": the server asks to wait {wait:.0f} s, try again later"
            raise DownloadError(item.url, reason, unreachable=True)
        raise _Retry(reason, wait)
    if status >= 500:
        raise _Retry(reason)
    raise DownloadError(item.url, reason)


def _retry_after(response) -> float | None:
    """The wait a ``Retry-After`` header asks for (seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# --- many files ---------------------------------------------------------------------


def download_all(items: Iterable[Download], label: str) -> dict[Download, Exception]:
    """Download ``items``, ``WORKERS`` at a time, under one progress report; return failures.

    Files already downloaded stay when others fail, so a re-run fetches only
    what is missing. A host that cannot be reached, or keeps failing after
    retries, is not asked for the batch's other files.
    """
    items = list(items)
    if not items:
        return {}
    progress = Progress(label, items)
    sessions, unreachable, failures = _Sessions(), set(), {}
    pool = ThreadPoolExecutor(max_workers=min(WORKERS, len(items)))
    try:
        jobs = {pool.submit(_one_of_many, i, sessions, unreachable, progress): i for i in items}
        for job in as_completed(jobs):
            if job.exception() is not None:
                failures[jobs[job]] = job.exception()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        sessions.close()
        progress.close(len(failures))
    return {item: failures[item] for item in items if item in failures}


def _one_of_many(item: Download, sessions, unreachable: set, progress) -> Path:
    """Download one file of a batch, unless its host already failed in this batch."""
    host = urlsplit(download_url(item.url)).netloc
    if host in unreachable:
        raise DownloadError(item.url, f"not attempted: {host} failed for another file")
    try:
        return download(item, sessions.get(), progress)
    except DownloadError as error:
        if error.unreachable:
            unreachable.add(host)
        raise


class _Sessions:
    """One requests.Session per worker thread (a Session is not thread-safe), closed together.

    A session keeps its connection open, so a batch makes one connection per
    worker rather than one per file.
    """

    def __init__(self):
        self.local, self.opened, self.lock = threading.local(), [], threading.Lock()

    def get(self):
        """This thread's session, opened on first use."""
        session = getattr(self.local, "session", None)
        if session is None:
            import requests

            session = self.local.session = requests.Session()
            with self.lock:
                self.opened.append(session)
        return session

    def close(self) -> None:
        """Close every session, and so its connection."""
        for session in self.opened:
            session.close()


class Progress:
    """One progress report for a batch: a tqdm bar on a terminal, else a few plain lines.

    Plain lines (the start, each quarter of a batch over 1 MB, the end) keep a
    log or a notebook's output short. The report starts with the first bytes
    received: a batch that cannot reach its host says nothing here, and its
    error says why.
    """

    def __init__(self, label: str, items: list[Download], stream=None):
        self.stream, self.label, self.files = stream or sys.stderr, label, len(items)
        sizes = [item.size for item in items]
        self.total = sum(sizes) if None not in sizes else None
        self.quarterly = bool(self.total and self.total > 1e6)
        self.done, self.quarter, self.bar, self.started = 0, 0, None, None
        self.lock = threading.Lock()

    def _start(self) -> None:
        """Announce the batch: a tqdm bar on a terminal (if tqdm is installed), else a line."""
        self.started = time.monotonic()
        if hasattr(self.stream, "isatty") and self.stream.isatty():
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=self.total, desc=self.label, unit="B", unit_scale=True,
                                file=self.stream)  # fmt: skip
                return
            except ImportError:
                pass
        megabytes = f", {self.total / 1e6:.1f} MB" if self.total else ""
        count = f"{self.files:,} files" if self.files > 1 else "1 file"
        self._say(f"Downloading {self.label} ({count}{megabytes})...")

    def __call__(self, count: int) -> None:
        with self.lock:
            if self.started is None:
                self._start()
            self.done += count
            if self.bar is not None:
                self.bar.update(count)
            elif self.quarterly and self.done * 4 >= (self.quarter + 1) * self.total:
                self.quarter = self.done * 4 // self.total
                if self.quarter < 4:
                    self._say(f"  {self.done * 100 // self.total}% of {self.label}")

    def close(self, failed: int) -> None:
        """End the report (if it started): the time taken and how many files failed."""
        if self.started is None:
            return
        if self.bar is not None:
            self.bar.close()
        seconds = time.monotonic() - self.started
        outcome = f", {failed} failed" if failed else ""
        self._say(f"Downloaded {self.label} in {seconds:.1f} s{outcome}.")

    def _say(self, line: str) -> None:
        """One plain line of the report, at once (a log shows it while the batch runs)."""
        print(line, file=self.stream, flush=True)
