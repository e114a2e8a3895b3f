"""The pytest plugin and assertions: fixtures, assertion messages carrying the last transitions,
and the failure report section, checked in a real pytest subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from am_core import Machine, State, StateUnknownError
from am_core.states import BasicStates
from am_core.testing import (
    TxRecorder,
    assert_clock,
    assert_is,
    assert_no_exception_ever,
    assert_not,
)

ROOT = Path(__file__).resolve().parents[2]


def schema() -> dict[str, State]:
    return {**BasicStates.schema(), "A": State(), "B": State(require=["A"])}


def test_fixture_machine_records(am_machine: Callable[..., Machine]) -> None:
    m = am_machine(schema(), id="fx")
    m.add1("A")
    m.add1("B")
    m.remove1("A")
    assert_is(m, ["B"]) if m.is1("B") else assert_not(m, "B")
    assert_not(m, ["A"])
    assert_clock(m, {"A": 2, "B": 2})
    assert_no_exception_ever(m)


def test_assert_is_message_has_last_transitions(am_recorder: Callable[..., TxRecorder]) -> None:
    m = Machine(schema(), id="msg")
    am_recorder(m)
    m.add1("B")  # canceled: requires A
    m.add1("A")
    with pytest.raises(AssertionError) as info:
        assert_is(m, "B")
    text = str(info.value)
    assert "msg: expected active B; active: A" in text
    assert "[add] B -> CANCELED" in text
    assert "[add] A -> accepted" in text
    assert "[state] +A" in text  # the log line am-dbg shows for this transition
    assert "active: A" in text


def test_assert_clock_and_exception_ever() -> None:
    m = Machine(schema(), id="clk")
    m.add1("A")
    with pytest.raises(AssertionError, match="A expected 3 got 1"):
        assert_clock(m, {"A": 3})
    m.add_err(ValueError("boom"))
    m.remove1("Exception")
    with pytest.raises(AssertionError, match="boom"):
        assert_no_exception_ever(m)  # gone now, but it was active once
    with pytest.raises(StateUnknownError, match="Nope"):
        assert_is(m, "Nope")


def test_failure_report_section(tmp_path: Path) -> None:
    (tmp_path / "test_fails.py").write_text(
        textwrap.dedent(
            """
            from am_core import State
            from am_core.testing import assert_is

            def test_it(am_machine):
                m = am_machine({"A": State(), "B": State(require=["A"])}, id="rep")
                m.add1("A")
                m.remove1("A")
                m.add1("B")
                assert m.is1("B")
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # what the pytest11 entry point does once installed: load the plugin module by name
    plugin = [] if _entry_point_installed() else ["-p", "am_core.testing.plugin"]
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "asyncmachine: last transitions" in out.stdout
    assert "machine rep: last 3 transitions" in out.stdout
    assert "[remove] A -> accepted" in out.stdout
    assert "[add] B -> CANCELED" in out.stdout


def _entry_point_installed() -> bool:
    from importlib.metadata import entry_points

    return any(ep.value == "am_core.testing.plugin" for ep in entry_points(group="pytest11"))


def test_entry_point_declared() -> None:
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["pytest11"] == {"asyncmachine": "am_core.testing.plugin"}
