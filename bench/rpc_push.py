"""How fast an aRPC server's clock push reaches the mirror on the leading and the trailing edge.

spec/rpc.md §5.5: after a quiet period longer than the push window, a change is pushed at once (the
leading edge); changes inside the window go out together when it ends (the trailing edge).
tests/rpc/test_rpc_sync.py::test_push_throttling checks the edges with a window no box is slow
enough to miss; the latency is measured here, against a same-run baseline: the round trip of one
mutation called from the client (a request and its response on the same connection).

    .venv/bin/python bench/rpc_push.py [ROUNDS] [WINDOW_S]
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from am_core import Machine, State
from am_rpc import connect, serve

NAMES = ["Exception", "A", "B", "C"]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    window = float(sys.argv[2]) if len(sys.argv) > 2 else 0.25
    src = Machine({n: State() for n in NAMES[1:]}, id="push-src")
    src.verify_states(NAMES)
    mux = serve(src, "127.0.0.1:0", push_interval=window)
    client = connect(mux.addr, id="push-bench")
    nm = client.mach
    rtt, leading, trailing = [], [], []
    try:
        for _ in range(rounds):
            t0 = time.perf_counter()
            nm.toggle1("C")  # baseline: a call and its response
            rtt.append(time.perf_counter() - t0)

            time.sleep(window * 1.5)  # quiet for longer than the window
            w = nm.when_ticks("A", 1)
            t0 = time.perf_counter()
            src.toggle1("A")
            assert w.wait(30)
            leading.append(time.perf_counter() - t0)

            w = nm.when_ticks("B", 1)
            t0 = time.perf_counter()
            src.toggle1("B")  # inside the window the leading push opened
            assert w.wait(30)
            trailing.append(time.perf_counter() - t0)
    finally:
        client.close()
        mux.close()

    base = statistics.median(rtt)
    lead, trail = statistics.median(leading), statistics.median(trailing)
    print(f"window {window * 1e3:.0f} ms, {rounds} rounds, medians")
    print(f"call round trip (baseline): {base * 1e3:8.2f} ms")
    print(f"leading-edge push:          {lead * 1e3:8.2f} ms = {lead / base:.2f}x the round trip")
    print(f"trailing-edge push:         {trail * 1e3:8.2f} ms = {trail / window:.2f}x the window")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
