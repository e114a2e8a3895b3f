"""Start-up of the remote modes: CPU time until each is ready, against `python -c pass`.

Each mode is a real command in a subprocess; "ready" is the line it prints when it serves
(``mcp on ...``, ``ssh on ...``, ``listening on ...``) or, for ``am-repl``, its prompt. At that
moment the process's own CPU time (the scheduler's, from /proc; psutil elsewhere) and the wall time since the spawn are
taken, and the process is stopped. The baseline is a bare interpreter that prints a ready line
(``python -c pass`` plus one write), measured the same way in the same run, so the ratio says
what our imports and set-up cost on this box whatever its load. Median of ``--runs`` runs.

The MCP SDK is imported on the first request (``am_dbg.remote.mcp_run.LazyMcpApp``), so the
"first answer" rows time an ``initialize`` request answered too: over HTTP after ``mcp on``, and
over stdio (where the host's first message comes at once, so the SDK is loaded at start).

The REPL attach row starts an ``am-dbg --headless --ui-repl`` first (not timed) and times
``am-repl`` connecting to it: prompt shown = the debugger's machine mirrored.

    python bench/remote_startup.py [--runs 5] [--only mcp,ssh,repl]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil

PY = sys.executable
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DBG = [PY, "-m", "am_dbg"]
REPL = [PY, "-m", "am_dbg.remote.repl"]
TIMEOUT = 60.0
# `python -c pass` that says it is up and stays (its CPU time is read while it runs)
BASE = "import sys; sys.stderr.write('ready\\n'); sys.stderr.flush(); sys.stdin.read()"


@dataclasses.dataclass(frozen=True)
class Row:
    """One command, what it prints when ready (on which stream), and what is sent / asked."""

    name: str
    cmd: list[str]
    ready: str = "listening on"
    stream: str = "stderr"
    send: bytes = b""
    then: Callable[[bytes], None] | None = None


def _env(home: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=ROOT, HOME=home, XDG_STATE_HOME=os.path.join(home, "st"))
    env.pop("AM_RPC_TOKEN", None)
    return env


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}


def mcp_initialize(seen: bytes) -> None:
    """The first MCP request over HTTP (to the URL the process printed), read to its end."""
    url = re.search(rb"mcp on (\S+)", seen)
    assert url is not None
    req = urllib.request.Request(
        url.group(1).decode(),
        data=json.dumps(INIT).encode(),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
    )
    with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
        body = resp.read()
    assert b"serverInfo" in body, body[:300]


def time_to_ready(
    cmd: list[str],
    ready: str,
    env: dict[str, str],
    stream: str = "stderr",
    send: bytes = b"",
    then: Callable[[bytes], None] | None = None,
) -> tuple[float, float]:
    """Spawn `cmd` (writing `send` to its stdin), wait until `ready` appears on `stream`, run
    `then` (a first request); (cpu s, wall s) at that moment."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
        stderr=subprocess.PIPE if stream == "stderr" else subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    pipe = proc.stdout if stream == "stdout" else proc.stderr
    assert pipe is not None and proc.stdin is not None
    if send:
        proc.stdin.write(send)
        proc.stdin.flush()
    seen = b""
    try:
        while ready.encode() not in seen:
            left = TIMEOUT - (time.perf_counter() - t0)
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                raise RuntimeError(f"{cmd}: no {ready!r} in {TIMEOUT:g}s; got {seen[-500:]!r}")
            chunk = os.read(pipe.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"{cmd}: ended before {ready!r}; got {seen[-500:]!r}")
            seen += chunk
        if then is not None:
            then(seen)
        wall = time.perf_counter() - t0
        return cpu_time(proc.pid), wall
    finally:
        proc.kill()
        proc.wait()


def cpu_time(pid: int) -> float:
    """CPU seconds of a running process: /proc's scheduler clock (ns) where there is one, as
    psutil's user + system (10 ms ticks) cannot tell a bare interpreter from zero."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except OSError:
        cpu = psutil.Process(pid).cpu_times()
        return float(cpu.user + cpu.system)


@contextmanager
def running_dbg(env: dict[str, str]) -> Iterator[str]:
    """A headless am-dbg serving its machine for the REPL; yields the aRPC address."""
    proc = subprocess.Popen(
        [*DBG, "--headless", "--ui-repl", "127.0.0.1:0", "-l", "127.0.0.1:0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert proc.stderr is not None
    try:
        for raw in proc.stderr:
            m = re.search(r"repl on (\S+)", raw.decode())
            if m:
                yield m.group(1)
                return
        raise RuntimeError("am-dbg --ui-repl did not start")
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--only", default="", help="comma-separated row names (default: all)")
    ns = p.parse_args()
    home = tempfile.mkdtemp(prefix="am-startup-")
    env = _env(home)
    keys = os.path.join(home, "authorized_keys")
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(home, "id")], check=True
    )
    shutil.copy(os.path.join(home, "id.pub"), keys)
    demo = os.path.join(ROOT, "recordings", "demo.amdbg")
    mcp_http = [*DBG, "--headless", "-l", "127.0.0.1:0", "--ui-mcp", "127.0.0.1:0"]
    init = (json.dumps(INIT) + "\n").encode()
    rows: list[Row] = [
        Row("python -c pass", [PY, "-c", BASE], "ready"),
        Row("am-dbg --headless", [*DBG, "--headless", "-l", "127.0.0.1:0"], "listening on"),
        Row("am-dbg --headless -i demo", [*DBG, "--headless", "-l", "127.0.0.1:0", "-i", demo]),
        Row("mcp: --headless --ui-mcp", mcp_http, "mcp on"),
        Row("mcp: ... -i demo", [*mcp_http, "-i", demo], "mcp on"),
        Row("mcp: first answer (HTTP initialize)", mcp_http, "mcp on", then=mcp_initialize),
        Row(
            "mcp: --ui-mcp stdio, first answer",
            [*DBG, "--ui-mcp", "stdio", "-l", "127.0.0.1:0"],
            '"id":1',
            "stdout",
            send=init,
        ),
        Row(
            "ssh: --headless --ui-ssh",
            [
                *DBG,
                "--headless",
                "-l",
                "127.0.0.1:0",
                "--ui-ssh",
                "127.0.0.1:0",
                "--ui-ssh-keys",
                keys,
            ],
            "ssh on",
        ),
        Row(
            "repl: --headless --ui-repl",
            [*DBG, "--headless", "-l", "127.0.0.1:0", "--ui-repl", "127.0.0.1:0"],
            "repl on",
        ),
        Row("repl: am-repl", REPL, "am> ", "stdout"),
    ]
    only = {s.strip() for s in ns.only.split(",") if s.strip()}

    def wanted(name: str) -> bool:
        return not only or name == "python -c pass" or any(o in name for o in only)

    results: dict[str, tuple[float, float]] = {}

    def run(row: Row) -> None:
        cpus, walls = [], []
        for _ in range(ns.runs):
            cpu, wall = time_to_ready(row.cmd, row.ready, env, row.stream, row.send, row.then)
            cpus.append(cpu)
            walls.append(wall)
        results[row.name] = (statistics.median(cpus), statistics.median(walls))

    try:
        for row in rows:
            if wanted(row.name):
                run(row)
        attach = "repl: am-repl ADDR (attach to am-dbg)"
        if wanted(attach):
            with running_dbg(env) as addr:
                run(Row(attach, [*REPL, addr], "> ", "stdout"))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    base_cpu, base_wall = results["python -c pass"]
    print(f"load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores, median of {ns.runs} runs")
    print(f"{'mode':<40} {'cpu s':>7} {'x base':>7} {'wall s':>7} {'x base':>7}")
    for name, (cpu, wall) in results.items():
        print(f"{name:<40} {cpu:7.3f} {cpu / base_cpu:7.1f} {wall:7.3f} {wall / base_wall:7.1f}")


if __name__ == "__main__":
    main()
