"""`-f ADDR` with the target not up yet: am-dbg says so, keeps dialling, and the target gets
everything once it starts (schemas first)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

from am_core import Machine, State
from am_dbg.model.session import Session
from am_dbg.server import IngestServer
from am_rpc.dbg import connect

from .run import ROOT, env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _line(proc: asyncio.subprocess.Process, what: str) -> str:
    assert proc.stderr is not None
    while True:
        raw = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert raw, f"am-dbg exited before printing {what!r}"
        line = raw.decode()
        if what in line:
            return line


async def test_forward_target_not_up_yet_is_retried() -> None:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "am_dbg", "--headless", "-l", "127.0.0.1:0",
        "-f", f"127.0.0.1:{port}",
        stderr=subprocess.PIPE, env=env(), cwd=ROOT,
    )  # fmt: skip
    target = IngestServer(Session(), host="127.0.0.1", port=port)
    try:
        note = await _line(proc, "not up yet")
        assert f"forward target 127.0.0.1:{port} is not up yet" in note
        listening = await _line(proc, "listening on ")
        mine = listening.strip().rsplit(" ", 1)[1]

        def run() -> None:
            m = Machine({"A": State(multi=True)}, id="fwd")
            t = connect(m, mine)
            for _ in range(20):
                m.add1("A")
            assert t.close(10)

        await asyncio.get_running_loop().run_in_executor(None, run)
        await target.start()  # now the target comes up
        await _line(proc, f"forwarding to 127.0.0.1:{port}")
        s = target.session
        for _ in range(600):
            if "fwd" in s.machines and len(s.machines["fwd"]) >= 40:
                break
            await asyncio.sleep(0.05)
        h = s.machines["fwd"]
        assert sum(not h.info(i).is_queued for i in range(len(h))) == 20
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()
        await target.close()
