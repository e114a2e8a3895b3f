"""Recordings bench: time to open and to the first screen, `.amdbg` (whole file) vs `.amdbx`
(indexed chunks), for recordings of 10k / 100k / 1M transitions, with the same-run baseline.

For each size one machine's history (20 states, 3 steps and 2 log lines a transition, as
bench/ui.py) is written as a real `.amdbg` and converted to `.amdbx` (`recordings.io.convert`).
Then, each in a fresh subprocess (its own peak RSS):

- open: `recordings.load(path)` + `Session.load` (what `am-dbg -i FILE` does before the UI);
- first screen: open + what the screen shows of the last 40 transitions (`info`, `log_entries`,
  `clocks`, `had_err_since`), after `derive_now` as the UI runner does;
- peak RSS of that process.

The baseline is the raw decode of the same bytes, measured in the same run: every chunk of the
`.amdbg` inflated and `msgpack.unpackb`-ed (the least any whole-file reader must do). Ratios are
first-screen time over that baseline; `.amdbx` also shows the chunks it decoded.

`--ui`: also the real app's first frame (headless Textual) on each file.

Usage: `.venv/bin/python bench/recordings.py [--sizes 10000,100000,1000000] [--dir DIR] [--ui]`
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import msgpack

if __package__ in (None, ""):  # run as a script: the repository root, for `am_dbg`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from am_dbg.recordings.amdbg import CHUNK_HEAD, HEADER, RecordingWriter
from am_rpc.dbg.protocol import SchemaMsg, StateDef

N_STATES = 20
SCREEN = 40
T0 = 1_700_000_000_000_000_000


def _schema() -> SchemaMsg:
    names = (*(f"State{i}" for i in range(N_STATES)), "Exception")
    return SchemaMsg(id="big", states_index=names, states={n: StateDef() for n in names})


def write_amdbg(path: Path, n: int) -> None:
    """One machine of `n` transitions, as bench/ui.py generates them, recorded as `.amdbg`."""
    w = RecordingWriter(path, background=False, chunk_bytes=4 * 2**20)
    w.write_connect("c", "big", T0)
    w.write_schema(_schema(), "c", T0)
    clocks = [0] * (N_STATES + 1)
    for i in range(n):
        k = i % N_STATES
        clocks[k] += 1
        on = clocks[k] % 2
        sign = "+" if on else "-"
        d = {
            "m": "big",
            "id": f"{i:016x}",
            "c": list(clocks),
            "t": 0 if on else 1,
            "s": [k],
            "steps": [[32, -1, k, 0, 0], [4 if on else 8, -1, k, 0, 0], [2, -1, k, 0, 5]],
            "log": [[2, f"[state] {sign}State{k}"], [3, f"[handler:0] State{k}State"]],
        }
        w.write_tx("c", msgpack.packb(d), T0 + i * 1000)
    w.write_disconnect("c", "big", T0 + n * 1000)
    w.close()


def raw_decode(path: Path) -> float:
    """The baseline: inflate and unpack every chunk of an `.amdbg` (no model, no checks)."""
    t = time.perf_counter()
    data = path.read_bytes()
    pos = HEADER.size
    while pos < len(data):
        length, _ = CHUNK_HEAD.unpack_from(data, pos)
        start = pos + CHUNK_HEAD.size
        msgpack.unpackb(zlib.decompress(data[start : start + length]), raw=False)
        pos = start + length
    return time.perf_counter() - t


def one(path: str, verify: bool) -> dict[str, float]:
    """Open `path` and show its first screen, in this process (the subprocess side)."""
    from am_dbg.model.lazy_history import LazyHistory
    from am_dbg.model.session import Session
    from am_dbg.recordings import load
    from am_dbg.recordings.container import open_container

    t = time.perf_counter()
    s = Session(max_mem_bytes=1000 * 2**20)
    if verify:
        got = load(path)
        s.load(got.machines)
    else:
        s.load(open_container(path, verify=False).machines)
    t_open = time.perf_counter() - t
    h = s.machines["big"]
    h.derive_now()
    n = len(h)
    for i in range(max(0, n - SCREEN), n):
        h.info(i), h.log_entries(i), h.clocks(i), h.had_err_since(i)
    t_first = time.perf_counter() - t
    chunks = h.lazy_txs.cache.decoded if isinstance(h, LazyHistory) else -1
    return {"open": t_open, "first": t_first, "chunks": chunks, "rss_mb": _peak_rss_mb()}


def one_ui(path: str) -> dict[str, float]:
    """The real app (headless Textual, 160x50) on `path`: seconds from load to its first frame."""
    import asyncio

    from am_dbg.config import parse_args
    from am_dbg.model.lazy_history import LazyHistory
    from am_dbg.model.session import Session
    from am_dbg.recordings import load
    from am_dbg.ui.app import DbgApp

    async def run() -> dict[str, float]:
        t = time.perf_counter()
        s = Session(max_mem_bytes=1000 * 2**20)
        s.load(load(path).machines)
        cfg, _ = parse_args(["--test-mode", "-l", "-1", "--no-view-tail"])
        app = DbgApp(cfg, session=s)
        async with app.run_test(size=(160, 50)) as pilot:
            while not (app.viewer.selected and app.frames):
                await pilot.pause(0.001)
            await pilot.pause()
            first = time.perf_counter() - t
        h = s.machines["big"]
        chunks = h.lazy_txs.cache.decoded if isinstance(h, LazyHistory) else -1
        return {"open": 0.0, "first": first, "chunks": chunks, "rss_mb": _peak_rss_mb()}

    return asyncio.run(run())


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _run_one(path: Path, verify: bool = True, ui: bool = False) -> dict[str, float]:
    flags = [*([] if verify else ["--no-verify"]), *(["--ui"] if ui else [])]
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(path), *flags],
        capture_output=True,
        text=True,
        check=True,
    )
    got: dict[str, float] = json.loads(out.stdout)
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--dir", default="")
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)
    ap.add_argument("--no-verify", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ui", action="store_true", help="also the real app's first frame")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_ui(args.one) if args.ui else one(args.one, not args.no_verify)))
        return
    from am_dbg.recordings.io import convert

    work = Path(args.dir or tempfile.mkdtemp(prefix="amdbg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        old, new = work / f"r{n}.amdbg", work / f"r{n}.amdbx"
        write_amdbg(old, n)
        t = time.perf_counter()
        convert(old, new)
        t_conv = time.perf_counter() - t
        base = min(raw_decode(old) for _ in range(3))
        a = _run_one(old)
        b = _run_one(new)
        c = _run_one(new, verify=False)
        rows.append((n, t_conv, base, [("amdbg", a), ("amdbx", b), ("amdbx (no crc)", c)]))
        if args.ui:  # the app's first frame (its filtered index reads every TxInfo, see docs)
            rows[-1][3].extend(
                [("UI amdbg", _run_one(old, ui=True)), ("UI amdbx", _run_one(new, ui=True))]
            )
        print(
            f"{n:>9,} txs  amdbg {old.stat().st_size / n:5.1f} B/tx  amdbx "
            f"{new.stat().st_size / n:5.1f} B/tx  convert {t_conv:6.2f} s  raw decode {base:.3f} s",
            flush=True,
        )
    print()
    print(
        f"{'txs':>9}  {'format':<18}{'open s':>9}{'1st screen s':>14}{'x raw':>8}"
        f"{'chunks':>8}{'peak RSS MB':>13}"
    )
    for n, _, base, results in rows:
        for name, r in results:
            chunks = "-" if r["chunks"] < 0 else f"{int(r['chunks'])}"
            print(
                f"{n:>9,}  {name:<18}{r['open']:>9.3f}{r['first']:>14.3f}"
                f"{r['first'] / base:>8.3f}{chunks:>8}{r['rss_mb']:>13.0f}"
            )
    print(f"\nx raw: first-screen time / raw decode of the same .amdbg bytes, this run ({work})")


if __name__ == "__main__":
    main()
