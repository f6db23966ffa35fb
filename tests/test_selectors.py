"""Selectors carry a live widget and a static HTML version that works without a kernel."""

from __future__ import annotations

import html
import re

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest

from lib.selectors import Selector, selector

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def render(shade, size):
    """A small figure that differs for every combination."""
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.imshow(np.full((size, size), shade), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{shade} {size}")
    return fig


@pytest.fixture
def three_by_two():
    return selector(render, shade={"dark": 0.1, "mid": 0.5, "light": 0.9}, size=[2, 4])


def images(page: str) -> list[str]:
    return re.findall(r"<img [^>]*>", page)


def test_mimebundle_has_widget_and_static_html(three_by_two):
    bundle = three_by_two._repr_mimebundle_()
    assert {"model_id", "version_major"} <= set(bundle[WIDGET_MIME])
    assert bundle["text/plain"].startswith("<Selector")
    page = bundle["text/html"]
    tags = images(page)
    assert len(tags) == 6  # one picture per combination
    alts = sorted(html.unescape(re.search(r'alt="([^"]*)"', tag).group(1)) for tag in tags)
    expected = sorted(
        f"Output for shade={shade}, size={size}"
        for shade in ("dark", "mid", "light")
        for size in (2, 4)
    )
    assert alts == expected
    assert all('src="data:image/png;base64,' in tag for tag in tags)
    assert len(set(tags)) == 6
    # exactly the default picture is visible before any script runs
    assert sum("display:none" not in tag for tag in tags) == 1
    assert page.count("<select>") == 2


def test_static_script_is_inline_and_fetches_nothing(three_by_two):
    page = three_by_two.html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert len(scripts) == 1
    attributes, body = scripts[0]
    assert "src" not in attributes
    assert not re.search(r"https?:|//[a-z]|import\s*\(|fetch\(|XMLHttpRequest", body)
    assert "<link" not in page and "http" not in page.replace("data:image/png;base64,", "")


def test_changing_a_control_redraws(three_by_two):
    before = three_by_two.image.value
    three_by_two.controls["shade"].value = "light"
    after_shade = three_by_two.image.value
    assert after_shade != before
    three_by_two.controls["size"].value = "4"
    assert three_by_two.image.value not in (before, after_shade)


def test_defaults_choose_the_first_picture():
    chosen = selector(render, defaults={"shade": 0.9, "size": 4}, shade=[0.1, 0.9], size=[2, 4])
    assert chosen.controls["size"].value == "4"
    visible = [tag for tag in images(chosen.html) if "display:none" not in tag]
    # the labels of a list's options are str(value)
    assert len(visible) == 1 and 'alt="Output for shade=0.9, size=4"' in visible[0]


def test_unknown_default_lists_the_valid_labels():
    with pytest.raises(ValueError, match=r"'huge' is not an option of 'size'.*'2', '4'"):
        selector(render, defaults={"size": "huge"}, shade=[0.5], size=[2, 4])
    with pytest.raises(ValueError, match="choices are shade, size"):
        selector(render, defaults={"colour": "red"}, shade=[0.5], size=[2, 4])


def test_too_many_combinations_are_refused():
    calls = []

    def counting_render(a, b):
        calls.append((a, b))
        return np.zeros((2, 2))

    with pytest.raises(ValueError, match="65 combinations"):
        Selector(counting_render, {"a": list(range(13)), "b": list(range(5))})
    assert not calls  # refused before drawing anything
    with pytest.raises(ValueError, match="more than the 4"):
        selector(counting_render, max_combinations=4, a=[1, 2, 3], b=[1, 2])


def test_image_arrays_are_accepted():
    def gradient(direction):
        ramp = np.linspace(0, 1, 16).reshape(4, 4)
        return ramp if direction == "down" else ramp.T

    chosen = selector(gradient, direction=["down", "right"])
    assert len(images(chosen.html)) == 2


def test_live_only_option_uses_its_widget_and_is_left_out_of_the_static_page():
    text = widgets.Text(value="0.2")

    def shade_of(shade):
        return render(float(shade), 2)

    chosen = selector(shade_of, shade={"dark": "0.1", "own": text})
    assert len(images(chosen.html)) == 1
    assert "own" in chosen.html and "live Python kernel" in chosen.html
    chosen.controls["shade"].value = "own"
    first = chosen.image.value
    text.value = "0.8"  # typing in the box redraws
    assert chosen.image.value != first
    text.value = "not a number"  # a bad entry is reported, not raised
    assert "Cannot draw this" in chosen.message.value
    text.value = "0.3"
    assert chosen.message.value == ""


def test_a_picture_that_cannot_be_drawn_names_its_options():
    def render(kernel, size):
        if kernel == "blur" and size == 5:
            raise ValueError("kernel too large for the image")
        return np.zeros((4, 4))

    with pytest.raises(RuntimeError, match="kernel=blur, size=5 failed: ValueError: kernel too"):
        selector(render, kernel=["edge", "blur"], size=[3, 5])
