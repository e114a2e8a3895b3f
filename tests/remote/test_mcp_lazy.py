"""`am-dbg --ui-mcp ADDR` loads the MCP SDK on its first request (`mcp_run.LazyMcpApp`): clients
that arrive together all get the one app, and a debugger stopped before any request ends cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from mcp import Client

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "recordings/demo.amdbg")


def _start() -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "am_dbg",
            "--headless",
            "-l",
            "-1",
            "-i",
            DEMO,
            "--ui-mcp",
            "127.0.0.1:0",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    while True:
        line = proc.stderr.readline()
        assert line, f"am-dbg ended: {''.join(lines)}"
        lines.append(line)
        if line.startswith("mcp on "):
            return proc, line.split()[-1]


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0, rest
    assert "Traceback" not in rest, rest
    return rest


async def test_first_clients_at_once_share_one_app() -> None:
    proc, url = _start()
    try:

        async def machines() -> list[str]:
            async with Client(url) as client:
                res = await client.call_tool("list_machines", {})
                assert not res.is_error
                assert res.structured_content is not None
                return sorted(r["id"] for r in res.structured_content["machines"])

        got = await asyncio.gather(*(machines() for _ in range(3)))
        assert got[0] and got[0] == got[1] == got[2]
    finally:
        _stop(proc)


def test_stopped_before_any_request_ends_cleanly() -> None:
    proc, _ = _start()
    assert "Clients: " in _stop(proc)
