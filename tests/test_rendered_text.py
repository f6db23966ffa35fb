"""No page of the built book shows MyST that was meant to be rendered.

A role nested in backticks (`` `{glue:text}`name` ``) or misspelt is not an
error for Sphinx: it reaches the reader as literal text. These tests read
the text of every built page, as a reader sees it, and look for it.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from page_sizes import HTML_DIR  # noqa: E402

# A role ({glue:text}`x`, {ref}`x`, {cite}`x`...), a directive's name or a code fence.
UNRENDERED = re.compile(r"\{(glue|ref|numref|doc|cite|eq|download|term)(:[a-z]+)?\}|```")


class _VisibleText(HTMLParser):
    """The text of a page, without its scripts and styles."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def unrendered_markup(html: str) -> list[str]:
    """Each piece of literal MyST in ``html``'s visible text, with some context."""
    parser = _VisibleText()
    parser.feed(html)
    text = "".join(parser.parts)
    return [text[max(0, m.start() - 40) : m.end() + 40] for m in UNRENDERED.finditer(text)]


def test_no_page_shows_unrendered_myst():
    pages = sorted((HTML_DIR / "book").glob("*.html"))
    assert pages, f"No built book in {HTML_DIR}: run `make book` first."
    found = {
        page.name: hits
        for page in pages
        if (hits := unrendered_markup(page.read_text(encoding="utf-8")))
    }
    assert not found, f"Literal MyST on the built pages: {found}"


def test_the_check_sees_a_role_in_backticks_and_ignores_scripts():
    page = (
        "<p>the layer <code>{glue:text}`first_layer`</code> is</p>"
        "<script>var s = '{ref}`x`';</script><p>see {ref}`chapter`</p>"
    )
    hits = unrendered_markup(page)
    assert len(hits) == 2 and "first_layer" in hits[0] and "chapter" in hits[1]
    assert unrendered_markup("<p>the layer <code>conv1</code> is silent</p>") == []
