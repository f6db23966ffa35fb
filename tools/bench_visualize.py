"""Benchmark: filter patterns the original way versus batched, and Grad-CAM's time per image.

Not a test: a script to run by hand (it takes a few minutes on two cores)::

    CONVNETS_DATA=/work/shared/data .venv/bin/python tools/bench_visualize.py

1. One 16-filter grid of filter patterns for one layer of the pretrained
   base, computed twice in the same run: the original way (for each filter
   a fresh feature-extraction model and its own eager gradient ascent on
   one image) and the batched way of :func:`lib.visualize.filter_patterns`
   (one model, one compiled step, 16 images in one batch). Prints both
   times and their ratio (the target is 10x or more) and checks that both
   ways draw the same patterns.
2. Grad-CAM on the ImageNet classifier: the first call (which traces the
   compiled pass) and the mean of the next ones (the target is under 1 s).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lib  # noqa: E402, F401, I001  (first: silences TensorFlow's banner)

import numpy as np  # noqa: E402

from lib import data, gradcam, pretrained, visualize  # noqa: E402

DEFAULT_LAYERS = {"VGG16": "block3_conv1", "EfficientNet-Lite0": "block3a_expand_activation"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", help="layer of the pretrained base (default: a middle one)")
    parser.add_argument("--filters", type=int, default=16, help="filters in the grid")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--gradcam-runs", type=int, default=5)
    args = parser.parse_args(argv)

    base = pretrained.imagenet_base(include_top=False)
    layer = args.layer or DEFAULT_LAYERS[base.name]
    filters = list(range(args.filters))
    options = {"preprocess": base.preprocess, "size": args.size, "steps": args.steps}
    print(
        f"Filter patterns: {base.name}, layer {layer}, {len(filters)} filters, "
        f"{args.steps} steps on {args.size}x{args.size} images"
    )

    start = time.perf_counter()
    original = [
        visualize.filter_pattern_one_at_a_time(base.model, layer, f, **options) for f in filters
    ]
    original_seconds = time.perf_counter() - start
    print(f"  original way (fresh model + ascent per filter): {original_seconds:7.2f} s")

    start = time.perf_counter()
    batched = visualize.filter_patterns(base.model, layer, filters, **options)
    batched_seconds = time.perf_counter() - start
    print(f"  batched way (one model, one batch):             {batched_seconds:7.2f} s")
    print(f"  ratio: {original_seconds / batched_seconds:.1f}x (target: 10x or more)")
    # The first image of the batch starts from the same noise as the one-at-a-time run.
    difference = np.abs(original[0].astype(int) - batched[0].astype(int)).max()
    print(f"  filter {filters[0]}: largest pixel difference between the two ways: {difference}")

    classifier = pretrained.imagenet_classifier(verbose=False)
    photo = classifier.preprocess(classifier.resize(data.load_photo("elephant_photo")))
    start = time.perf_counter()
    gradcam.make_gradcam_heatmap(classifier.model, photo, 386)
    first = time.perf_counter() - start
    times = []
    for class_index in range(386, 386 + args.gradcam_runs):
        start = time.perf_counter()
        gradcam.make_gradcam_heatmap(classifier.model, photo, class_index)
        times.append(time.perf_counter() - start)
    print(
        f"Grad-CAM on {classifier.name}: first call {first:.2f} s (traces the pass), then "
        f"{np.mean(times):.3f} s per image (mean of {len(times)}; target: under 1 s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
