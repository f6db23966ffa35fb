"""A stand-in for the book's public hosts, on 127.0.0.1, for rehearsing the online path.

The data layer fetches ``https://HOST/PATH`` from ``$CONVNETS_DOWNLOAD_ORIGIN/HOST/PATH``
when that variable is set, so this server answers ``GET /HOST/PATH`` with the
bytes registered under ``"HOST/PATH"``. Faults make it misbehave the way real
hosts do, per path:

- ``"404"``: not found;
- ``"wrong-bytes"``: the right length of the wrong content;
- ``"drop-halfway"``: announces the full length, sends half, closes;
- ``("429", seconds)``: "Too Many Requests" with ``Retry-After: seconds`` the
  first time, the file afterwards;
- ``"hang"``: accepts the request and never answers (until the server stops).

Everything is bounded: the server runs on a daemon thread, stops when its
``with`` block ends, and a hanging handler waits on an event that stopping sets.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit


def public_files() -> dict[str, bytes | Path]:
    """Every public source but VGG16's weights, keyed by ``HOST/PATH``, as this machine has them.

    Each file is resolved as the book resolves it (mirror, cache or download,
    always verified): the registry's single files, and each of the 4,000 Dogs
    vs. Cats photos at its raw GitHub path, from the verified photo folder.
    (The mirror's ``mnist.npz`` differs from Keras's bytes, but its digest is
    one the registry accepts.)
    """
    from lib import assets, data

    files: dict[str, bytes | Path] = {
        origin_path(asset.url): data.fetch(asset.name)
        for asset in assets.ASSETS.values()
        if asset.url and not asset.name.startswith("vgg16")
    }
    dogs = assets.get_asset("dogs_vs_cats_small")
    root = data.dogs_vs_cats_dir()
    for path in assets.member_files(dogs):
        url = dogs.members.url.format(name=PurePosixPath(path).name)
        files[origin_path(url)] = root / path
    return files


def origin_path(url: str) -> str:
    """``"HOST/PATH"``: where the stand-in serves the file of a public ``https://`` URL."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


class OriginServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: dict[str, bytes | Path]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = dict(files)
        self.faults: dict[str, object] = {}
        self.requests: Counter[str] = Counter()  # path -> number of GETs
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def body(self, path: str) -> bytes | None:
        content = self.files.get(path)
        return content.read_bytes() if isinstance(content, Path) else content


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Send the body at once after the headers (TCP_NODELAY): with Nagle's algorithm it
    # waited for the client's delayed ACK of the headers, about 40 ms a file, which
    # made the 4,000 photos take 23 s with 8 downloads at a time here.
    disable_nagle_algorithm = True

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802 (http.server's naming)
        server: OriginServer = self.server
        path = self.path.lstrip("/")
        with server.lock:
            server.requests[path] += 1
            count = server.requests[path]
            fault = server.faults.get(path)
        if fault == "hang":
            server.stopping.wait(timeout=120)
            self.close_connection = True
            return
        if isinstance(fault, tuple) and fault[0] == "429" and count == 1:
            self.send_response(429)
            self.send_header("Retry-After", str(fault[1]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = server.body(path)
        if body is None or fault == "404":
            self.send_error(404, f"{path} is not served here")
            return
        if fault == "wrong-bytes":
            body = bytes(reversed(body)) if len(set(body)) > 1 else b"x" * len(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault == "drop-halfway":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@contextlib.contextmanager
def serve(files: dict[str, bytes | Path]):
    """Serve ``files`` (``"HOST/PATH"`` -> bytes or a file) on 127.0.0.1 for a ``with`` block."""
    server = OriginServer(files)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
