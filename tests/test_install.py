"""``make install`` leaves the installed packages compiled to bytecode (see the Makefile).

Where ``PYTHONDONTWRITEBYTECODE`` is set, as on this project's build machine, no
process writes the bytecode it compiles: without it on disk, every kernel and
subprocess of the build and the tests compiles TensorFlow again (about 8 s of
CPU each; ``make test`` took 6.4 min instead of 3.7).
"""

import importlib.util
from pathlib import Path

import pytest

HEAVY = ["tensorflow", "keras", "scipy", "IPython", "matplotlib"]


def missing_bytecode(package: str) -> list[str]:
    """The modules of ``package``'s top folder that have no compiled bytecode beside them."""
    folder = Path(importlib.util.find_spec(package).origin).parent
    return [
        path.name
        for path in sorted(folder.glob("*.py"))
        if not Path(importlib.util.cache_from_source(str(path))).is_file()
    ]


@pytest.mark.parametrize("package", HEAVY)
def test_the_heavy_packages_are_compiled(package):
    assert missing_bytecode(package) == [], "run `make install` (it compiles site-packages)"


def test_the_check_sees_a_module_without_bytecode(tmp_path, monkeypatch):
    (tmp_path / "uncompiled").mkdir()
    (tmp_path / "uncompiled" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr("sys.pycache_prefix", None)
    assert missing_bytecode("uncompiled") == ["__init__.py"]
