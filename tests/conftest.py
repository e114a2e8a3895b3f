"""Suite-wide rules: our pytest plugin loads from this tree when the installed package does not
register it yet (an editable install made before the ``pytest11`` entry point existed), and no
test may leave bench/ on ``sys.path``."""

import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

if not any(ep.value == "am_core.testing.plugin" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["am_core.testing.plugin"]


_BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """bench/ holds scripts named like libraries (bench/nats.py): on sys.path they hide the real
    package from every later test, so a test (or a bench module it loads) that leaves it there fails."""
    leaked = [p for p in sys.path if p and Path(p).resolve() == _BENCH]
    if leaked:
        sys.path[:] = [p for p in sys.path if p not in leaked]
        pytest.fail(f"{item.nodeid} left bench/ on sys.path (it shadows libraries: bench/nats.py)")
