"""Write book/NAME.ipynb, the notebook that a chapter's Colab and Binder buttons open.

    python tools/colab_notebooks.py          # (re)write them: `make notebooks`
    python tools/colab_notebooks.py --check  # list the stale ones, exit 1 if any

Colab opens a notebook straight from GitHub and cannot read MyST Markdown, so
every chapter of the book also exists, committed, as ``book/NAME.ipynb``: the
chapter converted by jupytext, without outputs (the reader runs it). The book
theme links the launch buttons to it because it lies beside ``book/NAME.md``.
Run this after changing a chapter; ``tests/test_launch.py`` fails while a
notebook differs from its chapter.

The notebook has one cell its chapter lacks: a set-up cell, before the first
code cell, that pip-installs the book's helper package ``lib`` where it is
missing (Colab; Binder's ``postBuild`` has installed it already). It is made
here, not written in the chapters, so that the repository it installs from is
named in one place, ``_config.yml``'s ``repository`` (the same repository and
branch the launch buttons open), and so that the HTML book, whose reader never
needs it, does not show it. ``CONVNETS_LIB_SOURCE`` overrides that source (a
fork, a local wheel: ``tests/test_launch.py`` installs one offline).

Colab renders Markdown, not MyST: the markdown cells are rewritten so that it
shows no raw directive or role. Exercises become bold headings, solutions
closed ``<details>`` blocks, and cross-references plain text: a chapter's
label line, ``(ch-pooling)=``, goes, and a ``{ref}`` role reads as its own
text (``{ref}`chapter 2 <ch-pooling>``` as "chapter 2") or, without text,
as the title of the chapter it names.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from functools import cache
from pathlib import Path

import jupytext
import nbformat
import yaml
from update_references import ROOT, chapter_files

LIB_SOURCE_ENV = "CONVNETS_LIB_SOURCE"

SETUP_CELL = """\
# In Colab (or any Python without this book's helper package), install `lib` first.
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("lib") is None:
    LIB_SOURCE = {lib_source}
    source = os.environ.get("{env}", LIB_SOURCE)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", source], check=True)
    importlib.invalidate_caches()"""


# sphinx-exercise's directives, which Colab would show as raw text: an exercise
# becomes a bold heading, a solution an HTML <details> block that stays closed.
EXERCISE = re.compile(
    r"^:::\{exercise\} *(?P<title>[^\n]*)\n:label: [^\n]*\n\n(?P<body>.*?)\n:::$", re.M | re.S
)
SOLUTION = re.compile(
    r"^::::\{solution\} [^\n]*\n(?::class: [^\n]*\n)?\n(?P<body>.*?)\n::::$", re.M | re.S
)


# MyST cross-references: a label line before a heading, and the {ref} role, with its own
# text (`text <label>`) or without (`label`, which Sphinx renders as the heading's title).
LABEL = re.compile(r"^\((?P<label>[\w-]+)\)=[ \t]*\n", re.M)
REF = re.compile(r"\{ref\}`(?:(?P<text>[^`<]+?)\s*<(?P<target>[^`<>]+)>|(?P<label>[^`<>]+))`")


@cache
def chapter_titles() -> dict[str, str]:
    """The label of each chapter, ``(ch-pooling)=`` before its title, and that title."""
    heading = re.compile(r"^\((?P<label>[\w-]+)\)=[ \t]*\n# (?P<title>.+)$", re.M)
    return {
        m["label"]: m["title"].strip()
        for chapter in chapter_files()
        for m in heading.finditer(chapter.read_text())
    }


def plain_reference(match: re.Match) -> str:
    """A {ref} role as a reader reads it: its text, or the title of the chapter it names."""
    if match["text"] is not None:
        return match["text"]
    label = match["label"].strip()
    titles = chapter_titles()
    if label not in titles:
        raise ValueError(f"{match[0]} names no chapter label; known: {', '.join(titles)}")
    return titles[label]


def colab_markdown(source: str, numbers) -> str:
    """A markdown cell's text with exercises, solutions and cross-references in markdown
    Colab renders."""
    source = EXERCISE.sub(
        lambda m: f"**Exercise {next(numbers)}: {m['title']}**\n\n{m['body']}", source
    )
    source = SOLUTION.sub(
        lambda m: f"<details><summary>Solution</summary>\n\n{m['body']}\n\n</details>", source
    )
    return REF.sub(plain_reference, LABEL.sub("", source))


def lib_source() -> str:
    """pip's requirement for ``lib`` from the book's repository: ``git+URL@BRANCH``."""
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    return f"git+{repository['url']}@{repository['branch']}"


def setup_cell_source() -> str:
    """The code of the set-up cell that starts every notebook."""
    return SETUP_CELL.format(lib_source=json.dumps(lib_source()), env=LIB_SOURCE_ENV)


def notebook_text(chapter: Path) -> str:
    """The .ipynb text of a chapter, set-up cell first, with stable cell ids."""
    notebook = jupytext.read(chapter)
    first_code = next(
        number for number, cell in enumerate(notebook.cells) if cell.cell_type == "code"
    )
    notebook.cells.insert(first_code, nbformat.v4.new_code_cell(setup_cell_source()))
    numbers = itertools.count(1)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = colab_markdown(cell.source, numbers)
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{number}"
    return jupytext.writes(notebook, fmt="ipynb")


def stale_notebooks() -> list[Path]:
    """Notebooks missing or differing from their chapter."""
    stale = []
    for chapter in chapter_files():
        target = chapter.with_suffix(".ipynb")
        if not target.exists() or target.read_text() != notebook_text(chapter):
            stale.append(target)
    return stale


def main(argv: list[str]) -> int:
    stale = stale_notebooks()
    for target in stale:
        if "--check" in argv:
            print(f"stale: {target.relative_to(ROOT)}")
        else:
            target.write_text(notebook_text(target.with_suffix(".md")))
            print(f"wrote {target.relative_to(ROOT)}")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
