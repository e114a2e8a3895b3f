"""Faults benchmark: honest senders streaming into a recording `am-dbg --headless` while it is
attacked and killed, in a loop (bounded; loopback only).

Each round starts a recorder (``--record FILE --token``; descriptor limit 256) and 3 honest
machines streaming through real `DbgTracer`s, then, while they stream:

- 50 forged schemas for the same machine ids (no secret, a wrong secret);
- 1,000 idle connections (connected, nothing sent);
- 20 authenticated peers each holding a 4 MiB partial frame (the total bound is 64 MiB);
- a deeply nested tx, a malformed tx, a poisoned batch (good txs + one nested 995 deep) from
  authenticated peers;
- SIGKILL of the recorder mid-stream, and a restart with the same command (continuing the file).

Then the senders close (waiting for their acks) and the recorder exits. Printed per round:
transitions sent / acked / dropped by the sender's bounded outbox while the recorder was down
(counted and reported, by design: the machine never waits) / recorded (the honest machines, read
back from the file) / lost (acked, not dropped, but not recorded) / recorded twice, the attacks refused, and the peak RSS of each
recorder process (``wait4``).

    .venv/bin/python bench/faults.py [--rounds 3] [--seconds 4]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import msgpack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from am_core import Machine, State  # noqa: E402
from am_dbg.recordings import load  # noqa: E402
from am_rpc.codec import encode_frame, encode_preamble  # noqa: E402
from am_rpc.dbg import connect  # noqa: E402
from am_rpc.dbg.frames import MAGIC  # noqa: E402

SECRET = "faults-bench-secret"
SCHEMA = {
    **{f"S{i}": State() for i in range(8)},
    "Start": State(add=["Ready"]),
    "Ready": State(require=["Start"]),
    "Busy": State(remove=["Idle"]),
    "Idle": State(auto=True, remove=["Busy"]),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int, rec: Path) -> subprocess.Popen[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "am_dbg",
            "--headless",
            "--listen-addr",
            f"127.0.0.1:{port}",
            "--record",
            str(rec),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "AM_DBG_TOKEN": SECRET, "PYTHONPATH": str(ROOT)},
        preexec_fn=limit,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert re.match(r"listening on ", line), line
    return proc


def _reap(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for the recorder; its peak RSS (MiB) and the rest of its stderr."""
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return usage.ru_maxrss // 1024, err


def _raw(port: int, secret: str | None, data: bytes) -> socket.socket | None:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        hello = encode_frame({"k": "hello", "token": secret}) if secret is not None else b""
        s.sendall(encode_preamble(magic=MAGIC) + hello + data)
        return s
    except OSError:
        return None


def _schema(mid: str, token: str) -> bytes:
    wire = {"id": mid, "idx": ["A", "B"], "states": {"A": {}, "B": {}}, "token": token}
    return encode_frame({"k": "schema", "schema": wire})


def _nested(depth: int) -> Any:
    v: Any = "x"
    for _ in range(depth):
        v = [v]
    return v


def _tx(mid: str, n: int, **extra: Any) -> bytes:
    return msgpack.packb({"m": mid, "id": f"{mid}-{n}", "c": [n, 0], **extra})


def attack(port: int, honest: list[str], keep: list[socket.socket]) -> dict[str, int]:
    """Every attack once; sockets that must stay open go to `keep`."""
    n = {"forged": 0, "idle": 0, "hogs": 0, "bad": 0}
    for k in range(50):
        s = _raw(port, None if k % 2 else "wrong", _schema(honest[k % len(honest)], f"f{k}"))
        if s is not None:
            s.close()
            n["forged"] += 1
    for _ in range(1000):
        s = _raw(port, None, b"")
        if s is not None:
            keep.append(s)
            n["idle"] += 1
    for k in range(20):
        s = _raw(port, SECRET, _schema(f"hog{k}", f"h{k}") + (4 << 20).to_bytes(4, "big"))
        if s is not None:
            try:
                s.sendall(b"\0" * ((4 << 20) - 1))
            except OSError:
                pass
            keep.append(s)
            n["hogs"] += 1
    deep = _tx("bad", 1, args={"k": _nested(600)})
    poison = _tx("bad", 2, args={"k": _nested(995)})
    for k, txs in enumerate(([deep], [msgpack.packb([1, 2])], [_tx("bad", 3), poison])):
        body = encode_frame({"k": "txs", "seq": 1, "txs": txs})
        s = _raw(port, SECRET, _schema(f"bad{k}", f"b{k}") + body)
        if s is not None:
            keep.append(s)
            n["bad"] += 1
    return n


def one_round(seconds: float, tmp: Path) -> str:
    rec = tmp / "faults.amdbg"
    if rec.exists():
        rec.unlink()
    port = _free_port()
    proc = _start(port, rec)
    machs = []
    for k in range(3):
        m = Machine(SCHEMA, id=f"honest{k}")
        m.semlogger().set_logger(lambda _lvl, _msg: None)
        machs.append((m, connect(m, f"127.0.0.1:{port}", secret=SECRET)))
    stop = threading.Event()

    def stream() -> None:
        i = 0
        while not stop.is_set():
            for m, _ in machs:
                m.add(["Start", f"S{i % 8}"])
                m.add1("Busy")
                m.remove1(f"S{i % 8}")
            i += 1
            time.sleep(0.002)  # ~1,500 tx/s a machine: a restart fits in the 10,000 outbox

    th = threading.Thread(target=stream, daemon=True)
    th.start()
    keep: list[socket.socket] = []
    hits = attack(port, [m.id for m, _ in machs], keep)
    time.sleep(seconds / 2)
    proc.send_signal(signal.SIGKILL)
    rss1, err1 = _reap(proc)
    proc = _start(port, rec)
    hits2 = attack(port, [m.id for m, _ in machs], keep)
    time.sleep(seconds / 2)
    stop.set()
    th.join(10)
    closed = all(t.close(30.0) for _, t in machs)
    for s in keep:
        s.close()
    proc.send_signal(signal.SIGTERM)
    rss2, err = _reap(proc)
    result = load(rec)
    got = {s.id: txs for s, txs in result.machines}
    sent = sum(t.stats().produced for _, t in machs)
    acked = sum(t.stats().acked for _, t in machs)
    dropped = sum(t.stats().dropped for _, t in machs)  # outbox overflow: counted, by design
    recorded = dups = lost = 0
    for m, t in machs:
        ids = [x.id for x in got.get(m.id, [])]
        recorded += len(ids)
        dups += len(ids) - len(set(ids))
        # acked is a seq (overflow drops leave gaps in it): acked, not dropped, not recorded
        lost += max(0, t.stats().acked - t.stats().dropped - len(set(ids)))
    if lost or dups:  # say what the reader and the recorder said
        print("reader:", result.warnings, "\nrecorder 1:", err1, "\nrecorder 2:", err, sep="\n")
    bad_runs = sorted(k for k in got if "~" in k and k.split("~")[0].startswith("honest"))
    return (
        f"sent {sent:,} | acked {acked:,} | dropped by the outbox {dropped:,}"
        f" | recorded {recorded:,} | lost {lost} | twice {dups}"
        f" | all acked at close {closed} | forged refused {hits['forged'] + hits2['forged']}"
        f" (honest runs renamed: {len(bad_runs)}) | idle conns {hits['idle'] + hits2['idle']:,}"
        f" | 4 MiB hogs {hits['hogs'] + hits2['hogs']} | bad peers {hits['bad'] + hits2['bad']}"
        f" | peak RSS {rss1} MiB (killed), {rss2} MiB (restarted)"
        f" | recorder stderr {len(err.splitlines())} lines"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0, help="streaming time per round")
    ns = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard if hard != resource.RLIM_INFINITY else 8192, 8192)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    with tempfile.TemporaryDirectory(prefix="am-faults-") as d:
        for r in range(1, ns.rounds + 1):
            print(f"round {r}: {one_round(ns.seconds, Path(d))}", flush=True)


if __name__ == "__main__":
    main()
