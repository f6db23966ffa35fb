"""Regenerate the reference notebooks that nbval checks the chapters against.

    python tools/update_references.py                 # every chapter in _toc.yml
    python tools/update_references.py 01_convolution  # just one
    python tools/update_references.py --from-build    # reuse the last `make book`
    python tools/update_references.py --base vgg16    # the VGG16 references (chapters 6-8)

Each chapter ``book/NAME.md`` is executed from scratch (in ``book/``, as the
book build does) and saved as ``tests/reference/NAME.ipynb``. Images, widget
state and the outputs of cells tagged ``nbval-ignore-output`` are dropped: the
reference keeps only the text outputs nbval compares, so it stays small and
its diff reads as a list of changed facts. Review that diff before committing.

Two pretrained bases, two sets of references (docs/CONVENTIONS.md). The
references above are the offline build's: EfficientNet-Lite0 (the chapters
run with ``CONVNETS_BASE=efficientnet_lite0``, so any machine makes the same
ones), under the budget of the machine (CI on a CPU). ``--base vgg16`` makes
``tests/reference/vgg16/NAME.ipynb`` for the chapters that use a pretrained
base: they run on VGG16 under the smoke budget, with stand-ins for Keras's
weight files served by a local origin server (``tests/vgg16_standins.py``).
The outputs of cells tagged ``depends-on-weights`` (predictions, which the
stand-ins' random weights make meaningless) are volatile there: those cells
get ``nbval-ignore-output`` in the VGG16 references only.

With ``--from-build`` the outputs that ``make book`` stored in its execution
cache (``_build/.jupyter_cache``) are used instead of running every chapter a
second time. The cache is looked up by the chapter's current code, so a
chapter changed since the build is refused. (The notebooks in
``_build/jupyter_execute`` will not do: the build drops their glue outputs,
and writes chapters it took from the cache without any outputs.)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import execute_chapters  # tools/, beside this script
import jupytext
import nbformat
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = ROOT / "tests" / "reference"
EXECUTION_CACHE = execute_chapters.CACHE  # where `make book` keeps executed chapters
DROPPED_MIME_TYPES = (
    "image/png",
    "image/jpeg",
    "image/svg+xml",
    "application/vnd.jupyter.widget-view+json",
)
IGNORE_TAG = "nbval-ignore-output"
WEIGHTS_TAG = "depends-on-weights"  # volatile in the VGG16 references only
LITE0, VGG16 = "efficientnet_lite0", "vgg16"
BASE_REFERENCE_DIRS = {LITE0: REFERENCE_DIR, VGG16: REFERENCE_DIR / VGG16}


# Pages with code that are not chapters. The Data page tabulates the data files
# as the build at hand found them (mirror, cache or download): its output differs
# from machine to machine by design, so nbval has nothing to compare, and it is
# no notebook to launch in Colab or Binder.
NOT_CHAPTERS = {"book/data"}


def nbval_command(notebooks, *options: str) -> list[str]:
    """The command that runs nbval on ``notebooks`` as ``make test`` does (same sanitizers)."""
    return [
        sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env",
        "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
        "-p", "no:cacheprovider", "-q", *options, *map(str, notebooks),
    ]  # fmt: skip


def chapter_files() -> list[Path]:
    """The chapters listed in _toc.yml that contain code cells."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]] + [entry["file"] for entry in toc.get("chapters", [])]
    paths = [ROOT / f"{entry}.md" for entry in entries if entry not in NOT_CHAPTERS]
    return [path for path in paths if has_code(jupytext.read(path))]


def has_code(notebook) -> bool:
    return any(cell.cell_type == "code" for cell in notebook.cells)


def uses_pretrained_base(notebook) -> bool:
    """Whether a chapter runs an ImageNet base, so has a reference per base."""
    return any(
        cell.cell_type == "code"
        and ("imagenet_base(" in cell.source or "imagenet_classifier(" in cell.source)
        for cell in notebook.cells
    )


def vgg16_chapter_files() -> list[Path]:
    """The chapters with a VGG16 reference too."""
    return [path for path in chapter_files() if uses_pretrained_base(jupytext.read(path))]


def reference_tags(tags, base: str) -> list[str]:
    """A cell's tags in ``base``'s reference: on VGG16, weight-dependent outputs are volatile."""
    tags = list(tags)
    if base == VGG16 and WEIGHTS_TAG in tags and IGNORE_TAG not in tags:
        tags.append(IGNORE_TAG)
    return tags


def strip_outputs(notebook, base: str = LITE0) -> None:
    """Keep only what nbval compares; drop bulky and run-dependent data."""
    notebook.metadata.pop("widgets", None)
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{number}"  # stable ids keep the diff to real changes
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags"):
            cell.metadata["tags"] = reference_tags(cell.metadata["tags"], base)
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


def ran_vgg16(notebook) -> bool:
    """Whether an executed chapter says it ran VGG16 (``PretrainedBase.describe``)."""
    return any(
        "Pretrained base: VGG16" in output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def update(chapter: Path, from_build: bool = False, base: str = LITE0) -> Path:
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
            timeout=3600 if base == LITE0 else 900,
            kernel_name="python3",
            resources={"metadata": {"path": chapter.parent}},
        ).execute()
    if uses_pretrained_base(notebook) and ran_vgg16(notebook) != (base == VGG16):
        raise SystemExit(
            f"{chapter.relative_to(ROOT)} ran {'VGG16' if ran_vgg16(notebook) else 'Lite0'}, "
            f"not the {base} its references need: run `make book` with "
            f"CONVNETS_BASE={base}, or drop --from-build"
        )
    strip_outputs(notebook, base)
    folder = BASE_REFERENCE_DIRS[base]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{chapter.stem}.ipynb"
    nbformat.write(notebook, target)
    print(f"{target.relative_to(ROOT)}: executed in {time.perf_counter() - start:.0f} s")
    return target


def main(argv: list[str]) -> int:
    from_build = "--from-build" in argv
    argv = [arg for arg in argv if arg != "--from-build"]
    base = LITE0
    if "--base" in argv:
        at = argv.index("--base")
        base = argv[at + 1] if at + 1 < len(argv) else ""
        del argv[at : at + 2]
        if base not in BASE_REFERENCE_DIRS:
            print(f"--base takes one of {', '.join(BASE_REFERENCE_DIRS)}")
            return 2
        if base == VGG16 and from_build:
            print("The VGG16 references run the chapters with stand-ins: no --from-build")
            return 2
    chapters = chapter_files() if base == LITE0 else vgg16_chapter_files()
    if argv:
        wanted = set(argv)
        unknown = wanted - {path.stem for path in chapters}
        if unknown:
            names = ", ".join(sorted(path.stem for path in chapters))
            print(f"Unknown chapter(s) {', '.join(sorted(unknown))}; choose from: {names}")
            return 2
        chapters = [path for path in chapters if path.stem in wanted]
    sys.path.insert(0, str(ROOT / "tests"))
    from vgg16_standins import environment_set, vgg16_environment

    if base == LITE0:
        with environment_set({"CONVNETS_BASE": LITE0}):
            for chapter in chapters:
                update(chapter, from_build)
        return 0
    with tempfile.TemporaryDirectory(prefix="vgg16-references-") as workdir:
        with vgg16_environment(Path(workdir)) as (environment, _), environment_set(environment):
            for chapter in chapters:
                update(chapter, base=VGG16)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
