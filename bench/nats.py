"""NATS benchmark: telemetry through NATS vs the direct TCP link (same run), PubSub convergence.

For each N (default 200 and 1,000 machines), one sender *process* streams N real machines
(`am_rpc.dbg.connect`, 3 transitions per round, each mutation's args carrying its send time)
to an in-process ingest server + `Session` (what ``am-dbg --headless`` runs), once over direct
TCP (``127.0.0.1:PORT``) and once over a local ``nats-server`` (``nats://``), in alternation:

- **throughput**: every machine does ``--rounds`` rounds as fast as it can; transitions/s from
  the first send to the last transition in the model;
- **latency**: a paced run (``--rate`` transitions/s spread over the machines for
  ``--seconds``): p50 / p99 of (model update time - send time).

PubSub: ``--members`` members (one machine each, own NATS connection, spread over
``--member-procs`` processes) join a topic; the time until every member lists every other one,
then, after one mutation on every machine, until every mirror everywhere shows the owner's new
clocks. Every member hears every heartbeat (N^2 messages per heartbeat interval), so one process
per few members is what a real deployment looks like; all of them in one process measures the
JSON parsing of that process instead.

    .venv/bin/python bench/nats.py [--machs 200,1000] [--rounds 10] [--rate 2000] [--seconds 3]
                                   [--members 100] [--member-procs 4] [--heartbeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgpack

# this file is named like the client library: keep bench/ off the path so `import nats` is nats-py
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from am_core import LogLevel, Machine, State  # noqa: E402
from am_dbg.model.session import Session  # noqa: E402
from am_dbg.server import IngestServer  # noqa: E402
from am_dbg.server.nats_ingest import NatsIngestServer  # noqa: E402
from am_rpc.dbg import connect  # noqa: E402
from am_rpc.nats.local_server import LocalNatsServer  # noqa: E402

SCHEMA20 = {
    **{f"S{i}": State() for i in range(14)},
    "Start": State(add=["Ready"]),
    "Ready": State(require=["Start"]),
    "Busy": State(remove=["Idle"]),
    "Idle": State(auto=True, remove=["Busy"]),
    "Heavy": State(require=["Busy"], after=["Busy"]),
}


# -- sender process ---------------------------------------------------------------------------


def _machine(mid: str) -> Machine:
    m = Machine(SCHEMA20, id=mid, log_level=LogLevel.OPS)
    m.semlogger().set_empty(LogLevel.OPS)
    m.semlogger().set_args_mapper(lambda a: {k: str(v) for k, v in a.items()} or None)
    return m


def _work(m: Machine, i: int) -> None:
    m.add(["Start", f"S{i % 14}"], {"ts": time.time_ns()})
    m.add1("Busy", {"ts": time.time_ns()}) if i % 2 else m.add1("Heavy", {"ts": time.time_ns()})
    m.remove1(f"S{i % 14}", {"ts": time.time_ns()})


def sender(addr: str, n: int, rounds: int, rate: float, seconds: float) -> None:
    machs = [_machine(f"b{k:04d}") for k in range(n)]
    tracers = [connect(m, addr, queued=False, outbox_limit=100_000) for m in machs]
    print("ready", flush=True)
    sys.stdin.readline()
    if rate <= 0:
        for i in range(rounds):
            for m in machs:
                _work(m, i)
    else:
        interval = 3 / rate  # one _work() is 3 transitions
        end = time.monotonic() + seconds
        nxt = time.monotonic()
        i = 0
        while time.monotonic() < end:
            for m in machs:
                _work(m, i)
                nxt += interval
                pause = nxt - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                if time.monotonic() >= end:
                    break
            i += 1
    ok = all(t.close(30.0) for t in tracers)
    dropped = sum(t.stats().dropped for t in tracers)
    produced = sum(t.stats().produced for t in tracers)
    print(f"done {produced} {dropped} {int(ok)}", flush=True)


# -- ingest side ------------------------------------------------------------------------------


class _TimedSession(Session):
    """Notes (model time - send time) of every tx, and when the last one arrived."""

    def __init__(self) -> None:
        super().__init__(max_mem_bytes=1 << 40)
        self.delays: list[int] = []
        self.count = 0  # txs in the model (auto transitions carry no send time)
        self.first_send = 0
        self.last_done = 0

    def on_txs(self, batch: Any, now_ns: int) -> Any:
        out = super().on_txs(batch, now_ns)
        done = time.time_ns()
        self.count += len(batch)
        for _, item in batch:
            d = msgpack.unpackb(item) if isinstance(item, bytes) else item.to_wire()
            ts = (d.get("args") or {}).get("ts")
            if ts:
                ts = int(ts)
                self.delays.append(done - ts)
                if not self.first_send or ts < self.first_send:
                    self.first_send = ts
        self.last_done = done
        return out


async def _one(addr_kind: str, nats_url: str, n: int, rounds: int, rate: float, secs: float):  # type: ignore[no-untyped-def]
    session = _TimedSession()
    srv: IngestServer
    if addr_kind == "nats":
        srv = NatsIngestServer(session, nats_url, batch_interval=0.0)
        await srv.start()
        addr = nats_url
    else:
        srv = IngestServer(session, host="127.0.0.1", port=0, batch_interval=0.0)
        await srv.start()
        addr = f"127.0.0.1:{srv.port}"
    proc = subprocess.Popen(
        [sys.executable, __file__, "--sender", addr, str(n), str(rounds), str(rate), str(secs)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, proc.stdout.readline)
    assert line == "ready\n", line
    # every schema in before "go" (the connection burst is not what is measured)
    deadline = time.monotonic() + 60
    while len(session.machines) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    line = await loop.run_in_executor(None, proc.stdout.readline)
    proc.wait(30)
    _, produced_s, dropped_s, ok_s = line.split()
    produced, dropped = int(produced_s), int(dropped_s)
    if ok_s != "1":
        print(f"  ({addr_kind}: the sender could not flush everything within 30 s)")
    deadline = time.monotonic() + 120
    while session.count < produced - dropped and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await srv.close()
    got = session.count
    span = (session.last_done - session.first_send) / 1e9
    d = sorted(session.delays)
    return {
        "got": got,
        "produced": produced,
        "dropped": dropped,
        "rate": got / span if span > 0 else 0.0,
        "p50": d[len(d) // 2] / 1e6 if d else 0.0,
        "p99": d[int(len(d) * 0.99)] / 1e6 if d else 0.0,
    }


def bench_telemetry(nats_url: str, n: int, rounds: int, rate: float, secs: float) -> None:
    print(f"\n== telemetry, {n} machines in one sender process")
    res: dict[str, list[dict[str, float]]] = {"tcp": [], "nats": []}
    for _ in range(2):  # alternate, so a drift of the box hits both
        for kind in ("tcp", "nats"):
            res[kind].append(asyncio.run(_one(kind, nats_url, n, rounds, 0, 0)))
    thr = {k: statistics.median(r["rate"] for r in v) for k, v in res.items()}
    for k, v in res.items():
        lost = sum(r["produced"] - r["got"] for r in v)
        runs = ", ".join(f"{r['rate']:.0f}" for r in v)
        print(f"  throughput {k:4}: {thr[k]:9.0f} tx/s   (runs: {runs}; not in the model: {lost})")
    print(f"  NATS / TCP throughput: {thr['nats'] / thr['tcp']:.2f}")
    lat = {k: asyncio.run(_one(k, nats_url, n, 0, rate, secs)) for k in ("tcp", "nats")}
    for k, r in lat.items():
        print(
            f"  latency at {rate:.0f} tx/s {k:4}: p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms"
            f"  ({r['got']} txs)"
        )
    print(f"  NATS / TCP latency p50: {lat['nats']['p50'] / max(lat['tcp']['p50'], 1e-9):.2f}")


# -- pubsub -----------------------------------------------------------------------------------


async def _pubsub_proc(url: str, first: int, count: int, total: int, hb: float) -> None:
    """One process of the PubSub bench: ``count`` members, steered by lines on stdin."""
    import nats

    from am_rpc.nats import join

    loop = asyncio.get_running_loop()

    async def line() -> str:
        return str(await loop.run_in_executor(None, sys.stdin.readline)).strip()

    ids = range(first, first + count)
    ncs = [await nats.connect(url) for _ in ids]
    machs = [Machine({"Foo": State(), "Bar": State()}, id=f"pm{i:03d}") for i in ids]
    print("ready", flush=True)
    await line()  # join
    ps = [
        await join(nc, "bench", [m], member_id=f"p{i:03d}", heartbeat=hb)
        for nc, m, i in zip(ncs, machs, ids, strict=True)
    ]
    while not all(len(p.mirrors()) == total - 1 for p in ps):
        await asyncio.sleep(0.01)
    print(f"listed {time.time()}", flush=True)
    await line()  # mutate
    t1 = time.time()
    for m in machs:
        m.add1("Foo")
    want = list(machs[0].time())  # every machine: Foo added once

    def converged() -> bool:
        return all(list(mir.time()) == want for p in ps for mir in p.mirrors().values())

    while not converged():
        await asyncio.sleep(0.01)
    print(f"converged {t1} {time.time()}", flush=True)
    await line()  # stop
    for p in ps:
        await p.close()
    for nc in ncs:
        await nc.close()


def bench_pubsub(url: str, members: int, procs: int, hb: float) -> None:
    print(f"\n== pubsub, {members} members in {procs} processes (heartbeat {hb:g} s)")
    per = members // procs
    children = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--member",
                url,
                str(k * per),
                str(per),
                str(members),
                str(hb),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(procs)
    ]

    def say(word: str) -> None:
        for c in children:
            assert c.stdin is not None
            c.stdin.write(word + "\n")
            c.stdin.flush()

    def hear() -> list[list[str]]:
        return [c.stdout.readline().split() for c in children]  # type: ignore[union-attr]

    assert all(r == ["ready"] for r in hear())
    t0 = time.time()
    say("join")
    listed = max(float(r[1]) for r in hear())
    say("mutate")
    conv = hear()
    t1 = min(float(r[1]) for r in conv)
    done = max(float(r[2]) for r in conv)
    say("stop")
    for c in children:
        c.wait(30)
    print(
        f"  every member lists the {members - 1} others {(listed - t0) * 1000:.0f} ms after "
        "the join began (each process joins its members one after the other)"
    )
    print(
        f"  one mutation on every machine: every mirror everywhere converged after "
        f"{(done - t1) * 1000:.0f} ms"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--member":
        url, first, count, total, hb = sys.argv[2:7]
        asyncio.run(_pubsub_proc(url, int(first), int(count), int(total), float(hb)))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--sender":
        addr, n, rounds, rate, secs = sys.argv[2:7]
        sender(addr, int(n), int(rounds), float(rate), float(secs))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--machs", default="200,1000")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--members", type=int, default=100)
    ap.add_argument("--member-procs", type=int, default=4)
    ap.add_argument("--heartbeat", type=float, default=2.0)
    args = ap.parse_args()
    with LocalNatsServer(jetstream=False) as srv:
        print(f"nats-server at {srv.url}")
        for n in (int(x) for x in args.machs.split(",")):
            bench_telemetry(srv.url, n, args.rounds, args.rate, args.seconds)
        bench_pubsub(srv.url, args.members, args.member_procs, args.heartbeat)


if __name__ == "__main__":
    main()
