"""`am-repl` attached to a running `am-dbg --headless --ui-repl`: the debugger's own machine over a
real aRPC socket, driven from a scripted prompt under a pty (pexpect).

What the REPL does is checked from outside, through the same debugger's MCP endpoint (the
`viewer_status` tool): a REPL mutation moves the real viewer, and a change made by the debugger
itself reaches a waiting `when`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest
from mcp import Client

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "recordings/demo.amdbg")
TIMEOUT = 60


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["TERM"] = "dumb"
    env.pop("AM_DBG_TOKEN", None)
    env.pop("AM_RPC_TOKEN", None)
    env.update(extra)
    return env


class Dbg:
    """A running `am-dbg --headless --ui-repl --ui-mcp -i demo` and the addresses it printed."""

    def __init__(self, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "am_dbg",
                "--headless",
                "-l",
                "-1",
                "-i",
                DEMO,
                "--ui-repl",
                "127.0.0.1:0",
                "--ui-mcp",
                "127.0.0.1:0",
                *extra,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        self.repl = self.mcp = ""
        lines: list[str] = []
        assert self.proc.stderr is not None
        while not (self.repl and self.mcp):
            line = self.proc.stderr.readline()
            assert line, f"am-dbg ended: {''.join(lines)}"
            lines.append(line)
            if m := re.match(r"repl on (\S+)", line):
                self.repl = m.group(1)
            if m := re.match(r"mcp on (\S+)", line):
                self.mcp = m.group(1)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        rest = self.proc.communicate(timeout=TIMEOUT)[1]
        assert self.proc.returncode == 0, rest
        return rest


@pytest.fixture
def dbg() -> Iterator[Dbg]:
    d = Dbg()
    try:
        yield d
    finally:
        if d.proc.poll() is None:
            d.stop()


def _repl(*args: str, **env: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "am_dbg.remote.repl", *args],
        env=_env(**env),
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(50, 200),
    )


async def _status(client: Client) -> dict[str, Any]:
    res = await client.call_tool("viewer_status", {})
    assert not res.is_error
    assert res.structured_content is not None
    return res.structured_content


async def test_repl_drives_a_running_debugger(dbg: Dbg) -> None:
    async with Client(dbg.mcp) as mcp:
        before = await _status(mcp)
        listed = await mcp.call_tool("list_machines", {})
        assert listed.structured_content is not None
        ids = [r["id"] for r in listed.structured_content["machines"]]
        other = next(i for i in ids if i != before["machine"])
        p = _repl(dbg.repl)
        try:
            p.expect(r"connected to (\S+) at ")
            name = p.match.group(1)
            p.expect(f"{name}> ")
            # the debugger's own states, with Tab completion of their names
            p.sendline("inspect")
            p.expect(r"active: [^\r\n]*ClientSelected")
            p.send("inspect Selecti\t")
            p.expect("SelectingClient ")
            p.sendline("")
            p.expect("SelectingClient: inactive")
            # select another machine, as clicking it in the client list does
            p.sendline(f"add SelectingClient id={other}")
            p.expect("executed")
            p.sendline("when ClientSelected --timeout 30")
            p.expect("active: ClientSelected")
            assert (await _status(mcp))["machine"] == other
            # a typed argument: the cursor goes to transition 2
            p.sendline("add ScrollToTx cursor=2")
            p.expect("executed")
            assert (await _status(mcp))["cursor"] == 2
            # an unknown machine is refused by the debugger itself; the viewer stays
            p.sendline("add SelectingClient id=no-such-machine")
            p.expect("canceled")
            assert (await _status(mcp))["machine"] == other
            # a change made in the debugger (here through MCP) reaches a waiting `when`
            p.sendline("when FilterCanceledTx --timeout 30")
            res = await mcp.call_tool("set_filter", {"name": "canceled", "hidden": True})
            assert not res.is_error
            p.expect("active: FilterCanceledTx")
            p.expect(f"{name}> ")
            p.sendline("quit")
            p.expect(pexpect.EOF)
        finally:
            p.close(force=True)
        assert p.exitstatus == 0
    assert "Clients: " in dbg.stop()


def test_a_token_guards_it() -> None:
    """With a secret (AM_DBG_TOKEN / --token) the REPL must present it."""
    d = Dbg("--token", "s3cret")
    try:
        p = _repl(d.repl)
        try:
            p.expect("am-repl: cannot connect to")
            p.expect(pexpect.EOF)
        finally:
            p.close(force=True)
        assert p.exitstatus == 1
        p = _repl(d.repl, AM_RPC_TOKEN="s3cret")
        try:
            p.expect("connected to ")
            p.sendline("quit")
            p.expect(pexpect.EOF)
        finally:
            p.close(force=True)
        assert p.exitstatus == 0
    finally:
        d.stop()


def test_beyond_loopback_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from am_dbg.config import ConfigError, parse_args

    monkeypatch.delenv("AM_DBG_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"--ui-repl 0\.0\.0\.0:6835: not a loopback"):
        parse_args(["--ui-repl", "0.0.0.0:6835"])
    assert parse_args(["--ui-repl", "0.0.0.0:6835", "--token", "x"])[0].ui_repl == "0.0.0.0:6835"
    assert parse_args(["--ui-repl", "0.0.0.0:6835", "--insecure"])[0].ui_repl == "0.0.0.0:6835"
    assert parse_args(["--ui-repl"])[0].ui_repl == "127.0.0.1:6835"
