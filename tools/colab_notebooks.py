"""Write book/NAME.ipynb, the notebook that a chapter's Colab and Binder buttons open.

    python tools/colab_notebooks.py          # (re)write them: `make notebooks`
    python tools/colab_notebooks.py --check  # list the stale ones, exit 1 if any

Colab opens a notebook straight from GitHub and cannot read MyST Markdown, so
every chapter of the book also exists, committed, as ``book/NAME.ipynb``: the
chapter converted by jupytext, without outputs (the reader runs it). The book
theme links the launch buttons to it because it lies beside ``book/NAME.md``.
Run this after changing a chapter; ``tests/test_launch.py`` fails while a
notebook differs from its chapter.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
from update_references import ROOT, chapter_files


def notebook_text(chapter: Path) -> str:
    """The .ipynb text of a chapter, with stable cell ids so a rewrite changes nothing."""
    notebook = jupytext.read(chapter)
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
