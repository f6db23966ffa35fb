"""Regenerate the reference notebooks that nbval checks the chapters against.

    python tools/update_references.py                 # every chapter in _toc.yml
    python tools/update_references.py 01_convolution  # just one

Each chapter ``book/NAME.md`` is executed from scratch (in ``book/``, as the
book build does) and saved as ``tests/reference/NAME.ipynb``. Images, widget
state and the outputs of cells tagged ``nbval-ignore-output`` are dropped: the
reference keeps only the text outputs nbval compares, so it stays small and
its diff reads as a list of changed facts. Review that diff before committing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
import nbformat
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = ROOT / "tests" / "reference"
DROPPED_MIME_TYPES = (
    "image/png",
    "image/jpeg",
    "image/svg+xml",
    "application/vnd.jupyter.widget-view+json",
)
IGNORE_TAG = "nbval-ignore-output"


def chapter_files() -> list[Path]:
    """The chapters listed in _toc.yml that contain code cells."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]] + [entry["file"] for entry in toc.get("chapters", [])]
    paths = [ROOT / f"{entry}.md" for entry in entries]
    return [path for path in paths if has_code(jupytext.read(path))]


def has_code(notebook) -> bool:
    return any(cell.cell_type == "code" for cell in notebook.cells)


def strip_outputs(notebook) -> None:
    """Keep only what nbval compares; drop bulky and run-dependent data."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if IGNORE_TAG in cell.metadata.get("tags", []):
            cell.outputs = []
            continue
        for output in cell.outputs:
            for mime in DROPPED_MIME_TYPES:
                output.get("data", {}).pop(mime, None)


def update(chapter: Path) -> Path:
    notebook = jupytext.read(chapter)
    start = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=3600,
        kernel_name="python3",
        resources={"metadata": {"path": chapter.parent}},
    ).execute()
    strip_outputs(notebook)
    REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
    target = REFERENCE_DIR / f"{chapter.stem}.ipynb"
    nbformat.write(notebook, target)
    print(f"{target.relative_to(ROOT)}: executed in {time.perf_counter() - start:.0f} s")
    return target


def main(argv: list[str]) -> int:
    chapters = chapter_files()
    if argv:
        wanted = set(argv)
        unknown = wanted - {path.stem for path in chapters}
        if unknown:
            names = ", ".join(sorted(path.stem for path in chapters))
            print(f"Unknown chapter(s) {', '.join(sorted(unknown))}; choose from: {names}")
            return 2
        chapters = [path for path in chapters if path.stem in wanted]
    for chapter in chapters:
        update(chapter)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
