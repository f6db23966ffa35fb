"""Chapters 6, 7 and 8 run end to end on VGG16, and nbval checks its facts.

Keras's VGG16 weights cannot be downloaded here, so the test rehearses the
online path with stand-ins (``tests/vgg16_standins.py``): the same network
with random weights, saved as Keras's files are, served by a local origin
server that every download of the kernel is pointed at. An IPython start-up
file, in the kernel only, replaces the registry's MD5 for the two files with
the stand-ins'. The chapters run under the smoke budget with
``CONVNETS_BASE=vgg16`` (no silent fall-back to EfficientNet-Lite0) and a
fresh cache, in a subprocess: nbval on ``tests/reference/vgg16/*.ipynb``.
What comes from VGG16's architecture (parameter counts, shapes, layer names)
is checked there; what depends on its weights is not (docs/CONVENTIONS.md).

``make test`` runs it (the main nbval run skips these references: they need
this set-up). About four minutes on two CPU cores, most of it chapter 6.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))
from origin_server import origin_path  # noqa: E402
from update_references import BASE_REFERENCE_DIRS, VGG16, nbval_command  # noqa: E402
from vgg16_standins import ASSETS, vgg16_environment  # noqa: E402

REFERENCES = sorted(BASE_REFERENCE_DIRS[VGG16].glob("*.ipynb"))
TIMEOUT_S = 900  # the whole nbval run; it takes about four minutes on two cores


@pytest.fixture(scope="session")
def standins_dir(tmp_path_factory):
    """The stand-ins, made once per test session (about 20 s, 610 MB)."""
    return tmp_path_factory.mktemp("vgg16-standins")


def test_the_chapters_run_end_to_end_on_vgg16(tmp_path, standins_dir):
    if not REFERENCES:
        pytest.fail("no VGG16 references: run `python tools/update_references.py --base vgg16`")
    with vgg16_environment(tmp_path, standins_dir) as (environment, server):
        try:
            result = subprocess.run(
                nbval_command(REFERENCES, "--nbval-cell-timeout=600", "--durations=8"),
                capture_output=True,
                text=True,
                cwd=tmp_path,
                env={**os.environ, **environment},
                timeout=TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as error:
            pytest.fail(f"nbval on the VGG16 references ran over {TIMEOUT_S} s:\n{error.stdout}")
        requests = dict(server.requests)
    report = result.stdout[-20000:] + result.stderr[-5000:]
    assert result.returncode == 0, report
    assert " passed" in result.stdout and "failed" not in result.stdout, report
    # VGG16 really ran: both stand-ins were downloaded from the origin server, and so
    # was every other file the chapters read (no mirror).
    standins = {origin_path(data_url(name)) for name in ASSETS}
    assert standins <= set(requests), requests
    assert any("Deep-Learning-CarlosFS" in path for path in requests), "no photo was downloaded"
    cached = {path.name for path in (tmp_path / "cache").rglob("vgg16_weights_*.h5")}
    assert len(cached) == len(ASSETS), cached


def data_url(name: str) -> str:
    from lib import assets

    return assets.get_asset(name).url
