"""Every chapter page opens in Colab and Binder, and gets the book's helper package there.

Offline checks: the buttons of each page in ``_build/html`` (``make book``
first) point at a notebook committed in this repository; the notebooks match
their chapters; and the two ways ``lib`` gets installed, the set-up cell that
starts every chapter (Colab) and ``binder/postBuild`` (Binder), really install
it in a fresh virtual environment, from this repository's files, without
downloading anything.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "tools"))
from colab_notebooks import stale_notebooks  # noqa: E402
from update_references import chapter_files  # noqa: E402

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPOSITORY = CONFIG["repository"]["url"]
BRANCH = CONFIG["repository"]["branch"]
GITHUB_PATH = REPOSITORY.removeprefix("https://github.com/")
LAUNCH = CONFIG["launch_buttons"]
BUTTONS = {
    "Colab": f"{LAUNCH['colab_url']}/github/{GITHUB_PATH}/blob/{BRANCH}/",
    "Binder": f"{LAUNCH['binderhub_url']}/v2/gh/{GITHUB_PATH}/{BRANCH}?urlpath=lab/tree/",
}
CHAPTERS = chapter_files()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
@pytest.mark.parametrize("button", BUTTONS)
def test_chapter_page_has_a_button_that_opens_its_notebook(chapter, button):
    page = HTML / chapter.relative_to(ROOT).with_suffix(".html")
    if not page.exists():
        pytest.fail(f"{page.relative_to(ROOT)} is missing: run `make book` first.")
    links = re.findall(rf'href="{re.escape(BUTTONS[button])}([^"]+)"', page.read_text())
    assert len(links) == 1, f"{page.name} has {len(links)} {button} buttons"
    notebook = chapter.with_suffix(".ipynb").relative_to(ROOT).as_posix()
    assert links[0] == notebook
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", notebook], cwd=ROOT, capture_output=True
    )
    assert tracked.returncode == 0, f"{notebook} must be committed: {button} opens it from GitHub"


def test_notebooks_match_their_chapters():
    stale = [str(path.relative_to(ROOT)) for path in stale_notebooks()]
    assert not stale, f"Run `make notebooks` and commit: {', '.join(stale)} differ from chapters"


def setup_cells() -> dict[str, str]:
    """The first code cell of every chapter that has code."""
    cells = {}
    for chapter in sorted((ROOT / "book").glob("*.md")):
        code = [cell.source for cell in jupytext.read(chapter).cells if cell.cell_type == "code"]
        if code:
            cells[chapter.name] = code[0]
    return cells


def lib_source(cell: str) -> str:
    """The value the set-up cell assigns to LIB_SOURCE."""
    for node in ast.walk(ast.parse(cell)):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "LIB_SOURCE":
            return ast.literal_eval(node.value)
    raise AssertionError("the set-up cell assigns no LIB_SOURCE")


def test_every_chapter_starts_with_the_same_setup_cell():
    cells = setup_cells()
    first = cells["01_convolution.md"]
    assert {name for name, cell in cells.items() if cell != first} == set()
    assert lib_source(first) == f"git+{REPOSITORY}"


def fresh_python(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A new virtual environment's python, and an environment in which pip stays offline."""
    venv.create(tmp_path / "venv", with_pip=True)
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PIP"))
    }
    environment.update(
        PIP_NO_DEPS="1",  # lib's dependencies are not what is tested, and are not downloaded
        PIP_NO_INDEX="1",  # nor is anything else
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return tmp_path / "venv" / "bin" / "python", environment


def wheel_of_lib(tmp_path: Path) -> Path:
    """This checkout's package built into a wheel, as pip builds it from GitHub in Colab.

    pip builds it here, offline, with this environment's setuptools (a build
    in the new environment would first download setuptools), from a copy of
    pyproject.toml and lib/ (a build writes into its source folder).
    """
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "lib", source / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index"]
        + ["--no-build-isolation", "--wheel-dir", tmp_path / "wheels", source],
        check=True,
    )
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    return wheel


def test_setup_cell_installs_lib_where_it_is_missing(tmp_path):
    python, environment = fresh_python(tmp_path)
    environment["CONVNETS_LIB_SOURCE"] = str(wheel_of_lib(tmp_path))  # instead of GitHub
    cell = setup_cells()["01_convolution.md"]
    subprocess.run([python, "-c", cell], env=environment, cwd=tmp_path, check=True)
    found = subprocess.run(
        [python, "-c", "import importlib.util; print(importlib.util.find_spec('lib').origin)"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    installed = Path(found.stdout.strip()).parent
    assert installed.is_relative_to(tmp_path / "venv")
    assert (installed / "config.py").read_text() == (ROOT / "lib" / "config.py").read_text()


def test_binder_installs_the_requirements_then_lib():
    binder = ROOT / "binder"
    # A binder/ folder hides the root's requirements.txt from Binder: include it.
    assert "-r ../requirements.txt" in (binder / "requirements.txt").read_text().split("\n")
    assert os.access(binder / "postBuild", os.X_OK)
    assert "\npip install --no-deps -e .\n" in (binder / "postBuild").read_text()
