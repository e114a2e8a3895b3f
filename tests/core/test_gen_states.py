"""``am-gen states``: the generated module imports, has the states and groups, is formatted
(ruff format leaves it unchanged), and a second run changes nothing. Run as the real CLI."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from am_core.gen import render_states

ROOT = Path(__file__).resolve().parents[2]


def _am_gen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "am_rpc.gen_cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_generates_importable_formatted_idempotent(tmp_path: Path) -> None:
    args = ("states", "Worker", "--states", "Foo,Bar", "--inherit", "basic,connected")
    out = _am_gen(*args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    path = tmp_path / "worker_states.py"
    assert "wrote" in out.stderr
    text = path.read_text()
    mtime = path.stat().st_mtime_ns

    again = _am_gen(*args, cwd=tmp_path)
    assert again.returncode == 0 and "unchanged" in again.stderr
    assert path.read_text() == text and path.stat().st_mtime_ns == mtime

    spec = importlib.util.spec_from_file_location("worker_states", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    names = mod.WorkerStates.names()
    assert names[-2:] == ["Foo", "Bar"]
    assert {"Start", "Ready", "Connected", "Disconnected", "Exception"} <= set(names)
    assert mod.WorkerStates.Foo == "Foo"
    assert mod.WorkerGroups.Self == ["Foo", "Bar"]
    assert mod.WorkerGroups.ConnectedStates == [
        "Connecting",
        "Connected",
        "Disconnecting",
        "Disconnected",
    ]

    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    fmt = subprocess.run(
        [ruff, "format", "--check", "--line-length", "100", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_long_state_lists_stay_formatted(tmp_path: Path) -> None:
    states = [f"State{i:02d}Long" for i in range(12)]
    path = tmp_path / "big.py"
    path.write_text(render_states("Big", states, []))
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    fmt = subprocess.run(
        [ruff, "format", "--check", "--line-length", "100", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    out = _am_gen("states", "W", "--states", "Foo", "--inherit", "nope", cwd=tmp_path)
    assert out.returncode == 2 and "unknown --inherit set 'nope'" in out.stderr
    with pytest.raises(ValueError, match="'Ready' is already defined by BasicStates"):
        render_states("W", ["Ready"], ["basic"])
    with pytest.raises(ValueError, match="invalid state name 'foo'"):
        render_states("W", ["foo"], [])
    assert not list(tmp_path.iterdir())


def test_one_cli_has_both_subcommands(tmp_path: Path) -> None:
    help_out = _am_gen("--help", cwd=tmp_path)
    assert "states" in help_out.stdout and "grafana" in help_out.stdout
    graf = _am_gen("grafana", "--ids", "a,b", cwd=tmp_path)
    assert graf.returncode == 0, graf.stderr
    assert graf.stdout.lstrip().startswith("{") and '"uid": "am-a-b"' in graf.stdout
