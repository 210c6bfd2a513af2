"""Every docstring example in the package runs and gives what it shows."""
import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for top in ("common", "replications", "benchmarks")
    for p in (ROOT / top).rglob("*.py")
    if ">>>" in p.read_text(encoding="utf-8") and p.name != "__main__.py"
)


def test_the_package_has_docstring_examples():
    assert len(MODULES) >= 10  # guards the discovery above against finding nothing


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name}: no example found"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples fail (run python -m doctest -v)"
