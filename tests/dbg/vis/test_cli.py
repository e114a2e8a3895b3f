"""`am-vis` as a user runs it: a real process on the demo recording and the Go fixture."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.dbg.vis import parse

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "recordings" / "demo.amdbg"
GO = ROOT / "tests" / "data" / "am-dbg-sim.gob.br"


def am_vis(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "am_dbg.vis.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_render_mermaid_d2_with_filters(tmp_path: Path) -> None:
    out = tmp_path / "e.mmd"
    r = am_vis("render", str(DEMO), "mach://editor/t50", "--format", "mermaid", "-o", str(out))
    assert r.returncode == 0, r.stderr
    got = parse.mermaid(out.read_text())
    assert "Start" in got.names.values() and got.edges
    r = am_vis(
        "render", str(DEMO), "mach://editor", "-f", "d2", "--state", "Saving", "--distance", "1"
    )
    assert r.returncode == 0, r.stderr
    near = parse.d2(r.stdout)
    assert "Saving" in near.names.values()
    full = parse.d2(am_vis("render", str(DEMO), "mach://editor", "-f", "d2").stdout)
    nbrs = {b for a, b, _ in full.edges if a == "Saving"} | {
        a for a, b, _ in full.edges if b == "Saving"
    }
    assert set(near.names.values()) == nbrs | {"Saving"}
    assert near.edges == {e for e in full.edges if {e[0], e[1]} <= nbrs | {"Saving"}}


def test_render_go_dump_svg(tmp_path: Path) -> None:
    out = tmp_path / "ps.svg"
    r = am_vis("render", str(GO), "mach://ps-2/t3", "--format", "svg", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text().lstrip().startswith("<?xml")


def test_errors_name_what_is_wrong() -> None:
    r = am_vis("render", str(DEMO), "mach://nobody")
    assert r.returncode == 2 and "'nobody'" in r.stderr
    r = am_vis("render", str(DEMO), "mach://editor", "--state", "NoSuch")
    assert r.returncode == 2 and "'NoSuch'" in r.stderr
    r = am_vis("render", str(DEMO), "mach://editor/t999999")
    assert r.returncode == 2 and "t999999" in r.stderr
    r = am_vis("inspect", str(ROOT / "README.md"))
    assert r.returncode == 2 and "README.md" in r.stderr


def test_network_and_inspect() -> None:
    r = am_vis("network", str(DEMO))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "flowchart TB"
    ids = {ln.split("[")[0].strip(): ln.split('"')[1].split(" (")[0] for ln in lines if '["' in ln}
    parents = {
        (ids[a], ids[b])
        for ln in lines
        if "-->|parent|" in ln
        for a, b in [ln.strip().split(" -->|parent| ")]
    }
    assert ("supervisor", "worker-1") in parents and ("pipeline", "lane-2") in parents
    r = am_vis("inspect", str(DEMO))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# demo.amdbg") and "| editor | - | 19 | 6818 |" in r.stdout
