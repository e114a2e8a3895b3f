"""The runnable examples of spec/examples.md §1-§2 work (imported from examples/ and run)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"am_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_minimal(capsys: pytest.CaptureFixture[str]) -> None:
    load("minimal").main()
    out = capsys.readouterr().out
    assert "add1('Foo') -> canceled; is1('Foo') = False" in out
    assert "(Bar:1 Foo:1)" in out


async def test_complicated_both_conditions_hold() -> None:
    mod = load("complicated")
    assert await mod.run(1.0) == "ok: {'input': 2, 'result': 4}"


async def test_complicated_timeout_goes_to_exception() -> None:
    mod = load("complicated")
    assert await mod.run(0.3, ready=False) == "timeout"


async def test_complicated_expired_state_ctx_stops_quietly() -> None:
    mod = load("complicated")
    assert await mod.run(2.0, drop_worker=True) == "expired"
