"""Every chapter page opens in Colab and Binder, and gets the book's helper package there.

Offline checks: the buttons of each page in ``_build/html`` (``make book``
first) point at a notebook committed in this repository; the notebooks match
their chapters; the set-up cell that starts every notebook (not the chapters:
the HTML book never shows it) installs ``lib`` from the repository that
``_config.yml`` names; and the two ways ``lib`` gets installed really work in a
fresh virtual environment, from this repository's files, without downloading
anything: that set-up cell (Colab), and Binder's ``binder/`` files followed by
a chapter's first cells.
"""

from __future__ import annotations

import ast
import html
import itertools
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "tools"))
from colab_notebooks import (  # noqa: E402
    LIB_SOURCE_ENV,
    chapter_titles,
    colab_markdown,
    setup_cell_source,
    stale_notebooks,
)
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
STEP_TIMEOUT_S = 300  # for each pip run and for the notebook's cells (TensorFlow's import)


def built_pages() -> list[Path]:
    """The HTML pages of the built book (not its static files)."""
    if not (HTML / "index.html").exists():
        pytest.fail(f"No built book in {HTML.relative_to(ROOT)}: run `make book` first.")
    return [path for path in sorted(HTML.rglob("*.html")) if "_static" not in path.parts]


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


def test_every_chapter_has_a_label_before_its_title():
    titles = chapter_titles()
    assert len(titles) == len(CHAPTERS) and all(label.startswith("ch-") for label in titles)
    for chapter in CHAPTERS:
        first = next(cell for cell in jupytext.read(chapter).cells if cell.cell_type == "markdown")
        label, title = first.source.split("\n")[:2]
        assert titles[label.removeprefix("(").removesuffix(")=")] == title.removeprefix("# ")


def test_colab_reads_cross_references_as_plain_text():
    """Colab renders Markdown, not MyST: a label line goes, a {ref} role becomes text."""
    cell = (
        "(ch-pooling)=\n# Pooling\n\nAs in {ref}`chapter 1 <ch-convolution>`'s figure, and "
        "{ref}`the next chapter\n<ch-mnist>`; see {ref}`ch-augmentation`."
    )
    assert colab_markdown(cell, itertools.count(1)) == (
        "# Pooling\n\nAs in chapter 1's figure, and the next chapter; see Data augmentation."
    )
    with pytest.raises(ValueError, match="ch-nowhere"):
        colab_markdown("See {ref}`ch-nowhere`.", itertools.count(1))


def test_no_notebook_shows_myst_cross_references():
    raw = re.compile(r"\{(ref|numref|doc)\}`|^\([\w-]+\)=\s*$", re.M)
    shown = [
        f"{chapter.stem}: {match[0]!r}"
        for chapter in CHAPTERS
        for cell in nbformat.read(chapter.with_suffix(".ipynb"), as_version=4).cells
        if cell.cell_type == "markdown"
        for match in raw.finditer(cell.source)
    ]
    assert not shown, shown


def setup_cells() -> dict[str, str]:
    """The first code cell of every chapter's notebook, the one Colab and Binder open."""
    cells = {}
    for chapter in CHAPTERS:
        notebook = nbformat.read(chapter.with_suffix(".ipynb"), as_version=4)
        cells[chapter.stem] = next(c.source for c in notebook.cells if c.cell_type == "code")
    return cells


def lib_source(cell: str) -> str:
    """The value the set-up cell assigns to LIB_SOURCE."""
    for node in ast.walk(ast.parse(cell)):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "LIB_SOURCE":
            return ast.literal_eval(node.value)
    raise AssertionError("the set-up cell assigns no LIB_SOURCE")


def test_every_notebook_starts_with_the_same_setup_cell():
    cells = setup_cells()
    assert {name for name, cell in cells.items() if cell != setup_cell_source()} == set()
    # the repository and branch the launch buttons open, as _config.yml names them
    assert lib_source(setup_cell_source()) == f"git+{REPOSITORY}@{BRANCH}"


def test_chapters_do_not_carry_the_setup_cell():
    """The HTML book is built from the chapters: the set-up cell lives in the notebooks only."""
    carrying = [
        chapter.name
        for chapter in sorted((ROOT / "book").glob("*.md"))
        for cell in jupytext.read(chapter).cells
        if cell.cell_type == "code" and LIB_SOURCE_ENV in cell.source
    ]
    assert not carrying, f"{', '.join(carrying)}: `make notebooks` adds the set-up cell"


def test_no_page_shows_the_setup_cell():
    markers = (LIB_SOURCE_ENV, lib_source(setup_cell_source()))
    showing = [
        f"{page.relative_to(HTML)} shows {marker!r}"
        for page in built_pages()
        # the text of the page: highlighted code is cut into <span>s
        for text in [html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))]
        for marker in markers
        if marker in text
    ]
    assert not showing, "\n".join(showing)


def fresh_python(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A new virtual environment's python, and an environment in which pip stays offline."""
    venv.create(tmp_path / "venv", with_pip=True)
    return tmp_path / "venv" / "bin" / "python", offline_environment()


def offline_environment() -> dict[str, str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PIP"))
    }
    environment.update(
        PIP_NO_DEPS="1",  # lib's dependencies are not what is tested, and are not downloaded
        PIP_NO_INDEX="1",  # nor is anything else
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return environment


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
    environment[LIB_SOURCE_ENV] = str(wheel_of_lib(tmp_path))  # instead of GitHub
    cell = setup_cells()[CHAPTERS[0].stem]
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
    # every package of lib, its subpackages too (pyproject.toml lists them)
    for package in ("exercises", "plots"):
        assert (installed / package / "__init__.py").exists(), f"lib.{package} is not installed"


def test_binder_files_are_where_binder_reads_them():
    binder = ROOT / "binder"
    # A binder/ folder hides the root's requirements.txt from Binder: include it.
    assert "-r ../requirements.txt" in (binder / "requirements.txt").read_text().split("\n")
    assert os.access(binder / "postBuild", os.X_OK)
    # Binder's Python is the one the book is built and tested with.
    version = f"python-{sys.version_info.major}.{sys.version_info.minor}"
    assert (binder / "runtime.txt").read_text().strip() == version


def binder_python(tmp_path: Path) -> Path:
    """A fresh virtual environment standing in for Binder's, and its python.

    Binder downloads every requirement; here the new environment sees, through
    a ``.pth`` file, the packages ``make install`` put in this one from the same
    requirements.txt (as a ``--system-site-packages`` environment sees its
    base's), so pip has nothing to download but must still find every
    requirement satisfied. Every package but ``lib``, which postBuild has to
    install: the path leads to a folder of links to this site-packages' entries
    less lib's, so pip in the new environment neither finds lib nor can touch
    this environment's.
    """
    view = tmp_path / "site-packages"
    view.mkdir()
    for entry in Path(sysconfig.get_path("purelib")).iterdir():
        if entry.name != "lib" and "convnets_book_lib" not in entry.name:
            (view / entry.name).symlink_to(entry)
    venv.create(tmp_path / "venv", with_pip=False)
    python = tmp_path / "venv" / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "binder_base.pth").write_text(f"{view}\n")
    pip = tmp_path / "venv" / "bin" / "pip"  # the `pip` that postBuild runs
    pip.write_text(f'#!/bin/sh\nexec "{python}" -m pip "$@"\n')
    pip.chmod(0o755)
    return python


FIRST_CELLS = """\
import sys

import nbformat
from nbclient import NotebookClient

notebook = nbformat.read(sys.argv[1], as_version=4)
code = [number for number, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
notebook.cells = notebook.cells[: code[1] + 1]  # up to the chapter's imports
notebook.cells.append(
    nbformat.v4.new_code_cell("print(sys.prefix); print(lib.__file__)", id="where")
)
NotebookClient(notebook, timeout=int(sys.argv[2]), kernel_name="python3").execute()
print(notebook.cells[code[0]].get("outputs"))
print(notebook.cells[-1].outputs[0].text, end="")
"""


def test_binder_installs_lib_and_a_chapter_runs_its_first_cells(tmp_path):
    """What Binder does, offline: install binder/requirements.txt, run postBuild, open a notebook.

    In a copy of the repository (postBuild's editable install writes into it),
    as Binder runs them: ``pip install -r binder/requirements.txt`` from the
    root, then ``binder/postBuild`` from the root; then a chapter's notebook,
    in its folder, runs its set-up cell (which must find lib and do nothing)
    and its imports, in a kernel of the new environment.
    """
    repository = tmp_path / "repository"
    repository.mkdir()
    for name in ("pyproject.toml", "requirements.txt"):
        shutil.copy(ROOT / name, repository / name)
    for folder in ("binder", "lib"):
        shutil.copytree(ROOT / folder, repository / folder, ignore=shutil.ignore_patterns("__py*"))
    notebook = CHAPTERS[0].with_suffix(".ipynb").relative_to(ROOT)
    (repository / notebook).parent.mkdir()
    shutil.copy(ROOT / notebook, repository / notebook)

    python = binder_python(tmp_path)
    environment = offline_environment()
    del environment["PIP_NO_DEPS"]  # as Binder runs it
    environment["PATH"] = f"{python.parent}{os.pathsep}{environment['PATH']}"
    environment["PIP_NO_BUILD_ISOLATION"] = "0"  # build lib with the setuptools at hand
    environment[LIB_SOURCE_ENV] = str(tmp_path / "nothing here")  # the set-up cell must not run

    def run(command, cwd):
        done = subprocess.run(
            command,
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
        )
        assert done.returncode == 0, f"{command[0]} failed:\n{done.stderr[-3000:]}"
        return done.stdout

    run(["pip", "install", "--quiet", "-r", "binder/requirements.txt"], repository)
    run(["binder/postBuild"], repository)
    script = tmp_path / "first_cells.py"
    script.write_text(FIRST_CELLS)
    lines = run(
        [python, script, repository / notebook, str(STEP_TIMEOUT_S)], (repository / notebook).parent
    ).splitlines()
    assert lines[-3:] == ["[]", str(tmp_path / "venv"), str(repository / "lib" / "__init__.py")]
