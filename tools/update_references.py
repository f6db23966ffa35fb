"""Regenerate the reference notebooks that nbval checks the chapters against.

    python tools/update_references.py                 # every chapter in _toc.yml
    python tools/update_references.py 01_convolution  # just one
    python tools/update_references.py --from-build    # reuse the last `make book`

Each chapter ``book/NAME.md`` is executed from scratch (in ``book/``, as the
book build does) and saved as ``tests/reference/NAME.ipynb``. Images, widget
state and the outputs of cells tagged ``nbval-ignore-output`` are dropped: the
reference keeps only the text outputs nbval compares, so it stays small and
its diff reads as a list of changed facts. Review that diff before committing.

With ``--from-build`` the outputs that ``make book`` stored in its execution
cache (``_build/.jupyter_cache``) are used instead of running every chapter a
second time. The cache is looked up by the chapter's current code, so a
chapter changed since the build is refused. (The notebooks in
``_build/jupyter_execute`` will not do: the build drops their glue outputs,
and writes chapters it took from the cache without any outputs.)
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
EXECUTION_CACHE = ROOT / "_build" / ".jupyter_cache"
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
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{number}"  # stable ids keep the diff to real changes
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if IGNORE_TAG in cell.metadata.get("tags", []):
            cell.outputs = []
            continue
        for output in cell.outputs:
            for mime in DROPPED_MIME_TYPES:
                output.get("data", {}).pop(mime, None)
        cell.outputs = merge_streams(cell.outputs)


def merge_streams(outputs) -> list:
    """Consecutive prints to one stream as one output: how a run splits them is chance."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def update(chapter: Path, from_build: bool = False) -> Path:
    start = time.perf_counter()
    if from_build:
        from jupyter_cache import get_cache

        try:
            _, notebook = get_cache(EXECUTION_CACHE).merge_match_into_notebook(
                jupytext.read(chapter)
            )
        except KeyError:
            raise SystemExit(
                f"{chapter.relative_to(ROOT)} has no executed version in {EXECUTION_CACHE.name} "
                "matching its code: run `make book` first"
            ) from None
    else:
        notebook = jupytext.read(chapter)
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
    from_build = "--from-build" in argv
    argv = [arg for arg in argv if arg != "--from-build"]
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
        update(chapter, from_build)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
