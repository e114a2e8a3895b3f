"""Start-up of the remote modes: CPU time until each is ready, against `python -c pass`.

Each mode is a real command in a subprocess; "ready" is the line it prints when it serves
(``mcp on ...``, ``ssh on ...``, ``listening on ...``) or, for ``am-repl``, its prompt. At that
moment the process's own CPU time (the scheduler's, from /proc; psutil elsewhere) and the wall time since the spawn are
taken, and the process is stopped. The baseline is a bare interpreter that prints a ready line
(``python -c pass`` plus one write), measured the same way in the same run, so the ratio says
what our imports and set-up cost on this box whatever its load. Median of ``--runs`` runs.

The REPL attach row starts an ``am-dbg --headless --ui-repl`` first (not timed) and times
``am-repl`` connecting to it: prompt shown = the debugger's machine mirrored.

    python bench/remote_startup.py [--runs 5] [--only mcp,ssh,repl]
"""

from __future__ import annotations

import argparse
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

PY = sys.executable
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DBG = [PY, "-m", "am_dbg"]
REPL = [PY, "-m", "am_dbg.remote.repl"]
TIMEOUT = 60.0
# `python -c pass` that says it is up and stays (its CPU time is read while it runs)
BASE = "import sys; sys.stderr.write('ready\\n'); sys.stderr.flush(); sys.stdin.read()"


def _env(home: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=ROOT, HOME=home, XDG_STATE_HOME=os.path.join(home, "st"))
    env.pop("AM_RPC_TOKEN", None)
    return env


def time_to_ready(
    cmd: list[str], ready: str, env: dict[str, str], stream: str = "stderr"
) -> tuple[float, float]:
    """Spawn `cmd`, wait until `ready` appears on `stream`; (cpu s, wall s) at that moment."""
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
    assert pipe is not None
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
    rows: list[tuple[str, list[str], str, str]] = [
        ("python -c pass", [PY, "-c", BASE], "ready", "stderr"),
        ("am-dbg --headless", [*DBG, "--headless", "-l", "127.0.0.1:0"], "listening on", "stderr"),
        (
            "mcp: --headless --ui-mcp",
            [*DBG, "--headless", "-l", "127.0.0.1:0", "--ui-mcp", "127.0.0.1:0"],
            "mcp on",
            "stderr",
        ),
        (
            "mcp: --headless --ui-mcp -i demo",
            [*DBG, "--headless", "-l", "127.0.0.1:0", "--ui-mcp", "127.0.0.1:0", "-i", demo],
            "mcp on",
            "stderr",
        ),
        (
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
            "stderr",
        ),
        (
            "repl: --headless --ui-repl",
            [*DBG, "--headless", "-l", "127.0.0.1:0", "--ui-repl", "127.0.0.1:0"],
            "repl on",
            "stderr",
        ),
        ("repl: am-repl", REPL, "am> ", "stdout"),
    ]
    only = {s.strip() for s in ns.only.split(",") if s.strip()}

    def wanted(name: str) -> bool:
        return not only or name == "python -c pass" or any(o in name for o in only)

    results: dict[str, tuple[float, float]] = {}

    def run(name: str, cmd: list[str], ready: str, stream: str) -> None:
        cpus, walls = [], []
        for _ in range(ns.runs):
            cpu, wall = time_to_ready(cmd, ready, env, stream)
            cpus.append(cpu)
            walls.append(wall)
        results[name] = (statistics.median(cpus), statistics.median(walls))

    try:
        for name, cmd, ready, stream in rows:
            if wanted(name):
                run(name, cmd, ready, stream)
        if wanted("repl: am-repl ADDR (attach to am-dbg)"):
            with running_dbg(env) as addr:
                run("repl: am-repl ADDR (attach to am-dbg)", [*REPL, addr], "> ", "stdout")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    base_cpu, base_wall = results["python -c pass"]
    print(f"load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores, median of {ns.runs} runs")
    print(f"{'mode':<40} {'cpu s':>7} {'x base':>7} {'wall s':>7} {'x base':>7}")
    for name, (cpu, wall) in results.items():
        print(f"{name:<40} {cpu:7.3f} {cpu / base_cpu:7.1f} {wall:7.3f} {wall / base_wall:7.1f}")


if __name__ == "__main__":
    main()
