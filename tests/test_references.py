"""The reference notebooks nbval checks are current, and nbval really checks them.

``tests/reference/NAME.ipynb`` holds the outputs of ``book/NAME.md`` from its
last reviewed execution (``python tools/update_references.py``). The test
command runs nbval on them: it re-executes each chapter and compares every
output not tagged ``nbval-ignore-output``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from update_references import IGNORE_TAG, REFERENCE_DIR, chapter_files  # noqa: E402

CHAPTERS = chapter_files()


def code_cells(notebook):
    return [
        (cell.source.strip(), sorted(cell.metadata.get("tags", [])))
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def test_every_chapter_has_a_reference_and_no_reference_is_orphaned():
    chapters = {path.stem for path in CHAPTERS}
    references = {path.stem for path in REFERENCE_DIR.glob("*.ipynb")}
    assert chapters == references, (
        "Run `python tools/update_references.py` after adding or removing a chapter"
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_reference_has_the_chapter_code(chapter):
    reference = nbformat.read(REFERENCE_DIR / f"{chapter.stem}.ipynb", as_version=4)
    assert code_cells(reference) == code_cells(jupytext.read(chapter)), (
        f"{chapter.name} changed since its reference was made: run "
        f"`python tools/update_references.py {chapter.stem}` and review the diff"
    )


def first_checked_number(notebook):
    """The first digit in a compared text output: (cell, output, stream or mime key)."""
    for cell in notebook.cells:
        if cell.cell_type != "code" or IGNORE_TAG in cell.metadata.get("tags", []):
            continue
        for output in cell.outputs:
            if output.output_type == "stream" and re.search(r"\d", output.text):
                return output, "text"
            if "text/plain" in output.get("data", {}) and re.search(
                r"\d", output.data["text/plain"]
            ):
                return output.data, "text/plain"
    raise AssertionError("the reference has no checked numeric output to mutate")


def test_nbval_fails_when_a_checked_fact_changes(tmp_path):
    """Change one digit of a checked output in a copy of a reference: nbval must fail."""
    name = CHAPTERS[0].stem
    notebook = nbformat.read(REFERENCE_DIR / f"{name}.ipynb", as_version=4)
    holder, key = first_checked_number(notebook)
    original = holder[key]
    digit = re.search(r"\d", original)
    changed = str((int(digit.group()) + 1) % 10)
    holder[key] = original[: digit.start()] + changed + original[digit.end() :]
    mutated = tmp_path / f"{name}.ipynb"
    nbformat.write(notebook, mutated)

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            str(ROOT / "tests" / "nbval_sanitize.cfg"),
            "-p",
            "no:cacheprovider",
            "-q",
            str(mutated),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=1200,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert "1 failed" in report, report
    assert "Notebook cell execution failed" in report or "mismatch" in report.lower(), report
