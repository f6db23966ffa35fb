"""Show a helper's code in a chapter, highlighted, where the reader meets the idea.

``show.source(convolution.output_size)`` displays the function's source as a
Python code block: highlighted on the HTML page (MyST-NB renders Markdown
outputs) and in Jupyter or Colab, and as plain text in a terminal or under
nbval, which compares it with the reference like any printed fact.
"""

from __future__ import annotations

import inspect
import textwrap


class Source:
    """The source of one or more functions, classes or methods, ready to display."""

    def __init__(self, *objects):
        if not objects:
            raise ValueError("show.source needs at least one function, class or method.")
        self.code = "\n\n".join(textwrap.dedent(inspect.getsource(obj)).rstrip() for obj in objects)

    def _repr_markdown_(self) -> str:
        fence = "````" if "```" in self.code else "```"
        return f"{fence}python\n{self.code}\n{fence}\n"

    def __repr__(self) -> str:
        return self.code


def source(*objects) -> Source:
    """Display the code of ``objects`` (functions, classes, methods) as one highlighted block."""
    return Source(*objects)
