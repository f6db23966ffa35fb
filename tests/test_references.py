"""The reference notebooks nbval checks are current, and nbval really checks them.

``tests/reference/NAME.ipynb`` holds the outputs of ``book/NAME.md`` from its
last reviewed execution (``python tools/update_references.py``), on
EfficientNet-Lite0; ``tests/reference/vgg16/NAME.ipynb`` those of the chapters
that use a pretrained base, on VGG16 (``--base vgg16``; tests/test_vgg16_path.py
runs them). The test command runs nbval on them: it re-executes each chapter
and compares every output not tagged ``nbval-ignore-output``.
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
from update_references import (  # noqa: E402
    BASE_REFERENCE_DIRS,
    IGNORE_TAG,
    LITE0,
    REFERENCE_DIR,
    VGG16,
    WEIGHTS_TAG,
    chapter_files,
    nbval_command,
    reference_tags,
    vgg16_chapter_files,
)

CHAPTERS = chapter_files()
VGG16_CHAPTERS = vgg16_chapter_files()


def code_cells(notebook, base=LITE0):
    """Each code cell's source and tags, the tags as ``base``'s reference has them."""
    return [
        (cell.source.strip(), sorted(reference_tags(cell.metadata.get("tags", []), base)))
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def test_every_chapter_has_a_reference_and_no_reference_is_orphaned():
    chapters = {path.stem for path in CHAPTERS}
    references = {path.stem for path in REFERENCE_DIR.glob("*.ipynb")}
    assert chapters == references, (
        "Run `python tools/update_references.py` after adding or removing a chapter"
    )


def test_every_chapter_with_a_pretrained_base_has_a_vgg16_reference_and_only_those():
    references = {path.stem for path in BASE_REFERENCE_DIRS[VGG16].glob("*.ipynb")}
    assert references == {path.stem for path in VGG16_CHAPTERS}, (
        "Run `python tools/update_references.py --base vgg16` after adding or removing a "
        "chapter that uses pretrained.imagenet_base"
    )


BASE_CHAPTERS = [(LITE0, chapter) for chapter in CHAPTERS] + [
    (VGG16, chapter) for chapter in VGG16_CHAPTERS
]


@pytest.mark.parametrize(
    ("base", "chapter"), BASE_CHAPTERS, ids=lambda value: getattr(value, "stem", value)
)
def test_reference_has_the_chapter_code(base, chapter):
    reference = nbformat.read(BASE_REFERENCE_DIRS[base] / f"{chapter.stem}.ipynb", as_version=4)
    assert code_cells(reference) == code_cells(jupytext.read(chapter), base), (
        f"{chapter.name} changed since its {base} reference was made: run `python "
        f"tools/update_references.py{' --base vgg16' if base == VGG16 else ''} {chapter.stem}` "
        "and review the diff"
    )


def checked_text(notebook) -> str:
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code" and IGNORE_TAG not in cell.metadata.get("tags", [])
        for output in cell.outputs
    )


@pytest.mark.parametrize(
    ("base", "chapter"),
    [(b, c) for b, c in BASE_CHAPTERS if c in VGG16_CHAPTERS],
    ids=lambda value: getattr(value, "stem", value),
)
def test_each_reference_checks_its_own_base(base, chapter):
    reference = nbformat.read(BASE_REFERENCE_DIRS[base] / f"{chapter.stem}.ipynb", as_version=4)
    checked = checked_text(reference)
    ran, other = (
        ("VGG16", "EfficientNet-Lite0") if base == VGG16 else ("EfficientNet-Lite0", "VGG16")
    )
    assert f"Pretrained base: {ran}" in checked and f"Pretrained base: {other}" not in checked


@pytest.mark.parametrize("chapter", VGG16_CHAPTERS, ids=lambda path: path.stem)
def test_outputs_that_depend_on_the_weights_are_volatile_on_vgg16_only(chapter):
    for base in (LITE0, VGG16):
        reference = nbformat.read(BASE_REFERENCE_DIRS[base] / f"{chapter.stem}.ipynb", as_version=4)
        for cell in reference.cells:
            tags = cell.metadata.get("tags", [])
            if WEIGHTS_TAG in tags:
                assert (IGNORE_TAG in tags) == (base == VGG16), (base, cell.source[:80])


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
        nbval_command([mutated]),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=1200,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert "1 failed" in report, report
    assert "Notebook cell execution failed" in report or "mismatch" in report.lower(), report
