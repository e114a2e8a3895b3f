"""`am-dbg --demo` end to end, and the shipped demo recording.

The demo test runs the real console script headless on a free port, records, and reads the
recording back with ``--print-summary``; the recording test checks that the file shipped in
`recordings/` still holds every kind of behaviour the README promises.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from am_dbg.recordings import load
from tests.examples.expected import EXPECTED
from tests.examples.kinds import KINDS, kinds_of

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "recordings" / "demo.amdbg"
DEMO_MACHINES = {mid for parents, _ in EXPECTED.values() for mid in parents}


def am_dbg(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "am_dbg", *args],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def summary(path: Path) -> dict:
    res = am_dbg("-i", str(path), "--print-summary")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_demo_headless_records_every_demo_machine(tmp_path: Path) -> None:
    rec = tmp_path / "demo.amdbg"
    res = am_dbg(
        "--demo", "--headless", "--listen-addr", "127.0.0.1:0", "--record", str(rec),
        "--exit-after", "5",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "listening on 127.0.0.1:" in res.stderr
    assert "demo " not in res.stderr, res.stderr  # no example failed or had to be killed
    machines = {m["id"]: m for m in summary(rec)["machines"]}
    assert set(machines) >= DEMO_MACHINES, sorted(DEMO_MACHINES - set(machines))
    for mid in DEMO_MACHINES:
        assert machines[mid]["transitions"] > 0, mid
        assert machines[mid]["disconnected"], mid  # every example exited and said goodbye


def test_demo_needs_the_server() -> None:
    res = am_dbg("--demo", "--headless", "--listen-addr", "-1", "--exit-after", "1")
    assert res.returncode == 2
    assert "--demo needs the server" in res.stderr


def test_shipped_recording_has_every_kind_with_thousands_of_transitions() -> None:
    assert SHIPPED.is_file(), "regenerate: see recordings/README.md"
    assert SHIPPED.stat().st_size <= 5 * 2**20
    machines = {m["id"]: m for m in summary(SHIPPED)["machines"]}
    assert set(machines) >= DEMO_MACHINES
    assert sum(m["transitions"] for m in machines.values()) >= 5000
    assert sum(1 for m in machines.values() if m["transitions"] >= 200) >= 8
    found = kinds_of(load(str(SHIPPED)).machines, want=KINDS)
    assert set(KINDS) <= set(found), f"missing {sorted(set(KINDS) - set(found))}"


async def test_demo_in_the_ui_fills_the_client_list_and_stops_with_the_app() -> None:
    from am_dbg.config import parse_args
    from am_dbg.ui.app import DbgApp

    cfg, _ = parse_args(["--demo", "--listen-addr", "127.0.0.1:0"])
    app = DbgApp(cfg)
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(150):
            await pilot.pause(0.1)
            if set(app.session.machines) >= DEMO_MACHINES:
                break
        assert set(app.session.machines) >= DEMO_MACHINES
        demo = app.demo
        assert demo is not None
        assert sorted(demo.running()) == sorted(demo.names)
        await pilot.press("ctrl+q")
    assert demo.children == []  # every example was stopped (and waited for) on exit
