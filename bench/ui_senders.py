"""Sender side of `bench/ui.py --live`: N real am_core machines streaming to am-dbg at a fixed rate.

Run as a subprocess (its own CPU budget): `python bench/ui_senders.py ADDR N RATE SECONDS`. Prints
one JSON line at the end: mutations made and telemetry messages dropped by the senders' outboxes.
"""

from __future__ import annotations

import json
import sys
import time

from am_core import Machine, State
from am_rpc.dbg import connect

SCHEMA = {
    "Start": State(),
    "Working": State(multi=True, require=["Start"]),
    "Idle": State(require=["Start"], remove=["Working"]),
}


def main() -> None:
    addr, n, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    machs = [Machine(dict(SCHEMA), id=f"live-{k}") for k in range(n)]
    tracers = []
    for m in machs:
        m.verify_states([*SCHEMA, "Exception"])
        tracers.append(connect(m, addr, queued=False))
        m.add1("Start")
    period = 1.0 / rate
    made = 0
    end = time.monotonic() + seconds
    tick = time.monotonic()
    k = 0
    while time.monotonic() < end:
        for m in machs:  # one mutation per machine per period: n * rate per second
            m.add1("Working" if k % 3 else "Idle")
            made += 1
        k += 1
        tick += period
        delay = tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    lag = max(0.0, time.monotonic() - end)
    for t in tracers:
        t.close(5.0)
    dropped = sum(t.stats().dropped for t in tracers)
    print(json.dumps({"made": made, "dropped": dropped, "lag_s": round(lag, 2)}), flush=True)


if __name__ == "__main__":
    main()
