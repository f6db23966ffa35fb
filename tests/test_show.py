"""Shown code is the library's own source, as one Python block."""

import pytest

from lib import convolution, show


def test_source_is_a_fenced_python_block_and_plain_text():
    shown = show.source(convolution.output_size, convolution.max_pool2d)
    assert repr(shown).startswith("def output_size(")
    assert "\n\ndef max_pool2d(" in repr(shown)
    markdown = shown._repr_markdown_()
    assert markdown.startswith("```python\ndef output_size(") and markdown.endswith("\n```\n")


def test_a_method_is_dedented():
    class Example:
        def method(self):
            return 1

    assert repr(show.source(Example.method)).startswith("def method(self):")


def test_nothing_to_show_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        show.source()
