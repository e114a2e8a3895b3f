"""UI latency bench: does the cost of a key press follow the screen, not the history?

Opens the real am-dbg app (headless Textual, test mode) on one generated machine with 10,000 and
with 1,000,000 transitions (20 states, steps and a log line each), and reports:

- load: building the history (the model's ingest, not the UI);
- first frame: from app start to the first full redraw with the machine selected;
- key-press-to-frame latency for next / prev tx, fast jump ±50, state jump, step fwd / back:
  median and p99 over many presses, from posting the key to the end of the first screen
  compositor refresh after the app's redraw pass (key -> binding -> state machine -> handlers ->
  widgets -> Textual renders the changed lines);
- the ratio of 1M to 10k latencies (the goal: <= 1.5, i.e. independent of the history length).

Usage: `.venv/bin/python bench/ui.py [--big 1000000] [--small 10000] [--presses 40]`

`--live`: instead, 200 real machines in a subprocess (`bench/ui_senders.py`) stream 20 tx/s each
into the app's own ingest server while keys are pressed; reports dropped messages and the
key-press-to-frame median / p99 under that load.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Iterator

import msgpack
from textual import events

from am_dbg.config import parse_args
from am_dbg.model.session import Session
from am_dbg.states import DbgStates as S
from am_dbg.ui.app import DbgApp
from am_rpc.dbg.protocol import SchemaMsg, StateDef

N_STATES = 20
KEYS = (
    ("next tx", "right", "left"),
    ("prev tx", "left", "right"),
    ("jump ±50", "right_square_bracket", "left_square_bracket"),
    ("step fwd", "full_stop", "comma"),
    ("step back", "comma", "full_stop"),  # (both within one transition's steps)
)


def _schema() -> SchemaMsg:
    names = (*(f"State{i}" for i in range(N_STATES)), "Exception")
    return SchemaMsg(id="big", states_index=names, states={n: StateDef(multi=False) for n in names})


def _txs(n: int) -> Iterator[bytes]:
    """Packed transitions: round-robin toggles of 20 states, 3 steps and one log line each."""
    clocks = [0] * (N_STATES + 1)
    t0 = 1_700_000_000_000_000_000
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
            "time": t0 + i * 1000,
        }
        yield msgpack.packb(d)


def build(n: int) -> tuple[Session, float]:
    t = time.perf_counter()
    s = Session(max_mem_bytes=1 << 40)
    s.load([(_schema(), _txs(n))])
    return s, time.perf_counter() - t


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


class FrameWatch:
    """Hooks the screen's compositor refresh: wakes a waiter on the first refresh after a redraw."""

    def __init__(self, app: DbgApp) -> None:
        self.app = app
        self.want = -1
        self.done = asyncio.Event()
        self.at = 0.0
        self.redraw_part: list[float] = []  # key -> end of the app's redraw pass
        self.timeouts = 0  # presses that produced no frame within 10 s
        screen = app.screen
        orig = screen._compositor_refresh

        def hooked() -> None:
            orig()
            if self.want >= 0 and app.frames >= self.want and not self.done.is_set():
                self.at = time.perf_counter()
                self.done.set()

        screen._compositor_refresh = hooked  # type: ignore[method-assign]

    async def press(self, key: str) -> float:
        """Send `key` the way the terminal driver does; seconds until its frame was rendered."""
        app = self.app
        self.want = app.frames + 1
        self.done.clear()
        char = {"full_stop": ".", "comma": ",", "right_square_bracket": "]"}.get(key)
        char = char or {"left_square_bracket": "["}.get(key)
        event = events.Key(key, char)
        event.set_sender(app)
        t0 = time.perf_counter()
        app._driver.send_message(event)  # type: ignore[union-attr]
        try:
            await asyncio.wait_for(self.done.wait(), 10)
        except TimeoutError:
            self.timeouts += 1
            self.at = time.perf_counter()
        self.want = -1
        self.redraw_part.append(app._redraw_at - t0)
        return self.at - t0


async def measure(session: Session, presses: int) -> dict[str, tuple[float, float]]:
    cfg, _ = parse_args(["--test-mode", "-l", "-1", "--no-view-tail", "--max-mem", "1000000"])
    app = DbgApp(cfg, session=session)
    out: dict[str, tuple[float, float]] = {}
    t0 = time.perf_counter()
    async with app.run_test(size=(160, 50)) as pilot:
        while not (app.viewer.selected and app.frames):
            await pilot.pause(0.001)
        await pilot.pause()
        out["first frame"] = (time.perf_counter() - t0, 0.0)
        watch = FrameWatch(app)
        n = len(session.machines["big"])
        app.mach.add1(S.ScrollToTx, {"cursor": n // 2})
        await pilot.pause()
        for name, key, undo in KEYS:
            if name == "step fwd":  # step 1 of 3: the steps timeline is already on screen
                app.mach.add1(S.UserFwdStep)
                await pilot.pause()
            lat = []
            for _ in range(presses):
                lat.append(await watch.press(key))
                await pilot.pause()
                await pilot.press(undo)  # stay in the middle of the history
                await pilot.pause()
            out[name] = (statistics.median(lat), _pct(lat, 99))
        app.mach.add1(S.StateNameSelected, {"state": "State3"})
        await pilot.pause()
        lat = []
        for k in range(presses):
            key = "right_square_bracket" if k % 2 == 0 else "left_square_bracket"
            lat.append(await watch.press(key))
            await pilot.pause()
        out["state jump"] = (statistics.median(lat), _pct(lat, 99))
        if watch.timeouts:
            print(f"  {watch.timeouts} presses produced no frame within 10 s", flush=True)
    return out


async def measure_live(senders: int, rate: float, seconds: float, presses_every: float) -> None:
    """Key latency while `senders` machines stream `rate` tx/s each into the app's own server."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    cfg, _ = parse_args(["-l", "127.0.0.1:0", "--no-view-tail"])
    app = DbgApp(cfg)
    async with app.run_test(size=(160, 50)) as pilot:
        while app.server is None:
            await pilot.pause(0.05)
        port = app.server.addr[1]
        script = Path(__file__).with_name("ui_senders.py")
        proc = subprocess.Popen(
            [
                sys.executable,
                str(script),
                f"127.0.0.1:{port}",
                str(senders),
                str(rate),
                str(seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        while len(app.session.machines) < senders and proc.poll() is None:
            await pilot.pause(0.1)
        app.mach.add1(S.SelectingClient, {"id": "live-0"})
        await pilot.pause(1.0)
        watch = FrameWatch(app)
        lat: list[float] = []
        t_end = time.perf_counter() + seconds - 3
        k = 0
        while time.perf_counter() < t_end:
            key = "left" if k % 2 == 0 else "right"
            lat.append(await watch.press(key))
            k += 1
            await asyncio.sleep(presses_every)
        out, _ = await asyncio.to_thread(proc.communicate)
        await app.server.settle(30)
        res = json.loads(out.strip().splitlines()[-1])
        stored = sum(len(h) for h in app.session.machines.values())
        print(
            f"live: {senders} senders x {rate:g} tx/s for {seconds:g} s "
            f"(senders made {res['made']:,}, lag {res['lag_s']} s, dropped {res['dropped']}, "
            f"server dropped {app.server.stats.dropped}, stored {stored:,})"
        )
        print(
            f"key-press-to-frame while streaming: median {statistics.median(lat) * 1000:.0f} ms, "
            f"p99 {_pct(lat, 99) * 1000:.0f} ms over {len(lat)} presses "
            f"({watch.timeouts} without a frame in 10 s); goal p99 <= 150 ms"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--live", action="store_true", help="only the live-streaming measurement")
    ap.add_argument("--senders", type=int, default=200)
    ap.add_argument("--rate", type=float, default=20.0, help="tx/s per sender")
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    if args.live:
        asyncio.run(measure_live(args.senders, args.rate, args.seconds, 0.1))
        return
    results = {}
    for n in (args.small, args.big):
        session, load_s = build(n)
        print(f"{n:>9,} txs: history built in {load_s:.1f} s", flush=True)
        results[n] = asyncio.run(measure(session, args.presses))
        del session
    small, big = results[args.small], results[args.big]
    print(f"\n{'':14}{args.small:>12,} txs{args.big:>16,} txs   ratio (median)")
    ff_s, ff_b = small["first frame"][0], big["first frame"][0]
    print(f"{'first frame':14}{ff_s * 1000:>12.0f} ms{ff_b * 1000:>16.0f} ms   {ff_b / ff_s:.2f}")
    worst = 0.0
    for name in [k for k in small if k != "first frame"]:
        (ms, ps), (mb, pb) = small[name], big[name]
        ratio = mb / ms
        worst = max(worst, ratio)
        print(
            f"{name:14}{ms * 1000:>6.1f} / {ps * 1000:>5.1f} ms"
            f"{mb * 1000:>9.1f} / {pb * 1000:>5.1f} ms   {ratio:.2f}"
        )
    print("\n(latency: median / p99 per key press, key -> handlers -> redraw -> screen refresh)")
    print(
        f"worst latency ratio 1M/10k: {worst:.2f} (goal <= 1.5): {'OK' if worst <= 1.5 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
