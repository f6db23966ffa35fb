"""Test-session order: the longest test first."""

from __future__ import annotations


def pytest_collection_modifyitems(items):
    """Start the VGG16 rehearsal first (minutes, in a subprocess of its own), so that
    under ``make test``'s two workers the other one runs everything else meanwhile."""
    items.sort(key=lambda item: "test_vgg16_path.py" not in item.nodeid)
