"""A sender process for the NATS telemetry tests: ``python sender_proc.py URL PREFIX N ROUNDS``.

Streams N machines (ids ``PREFIX-k``) to URL, ROUNDS rounds of work each, closes every tracer
(flushing) and prints one JSON line: machine id -> number of executed transitions produced.
With ``--wait``, it keeps working (one round per line read on stdin) until stdin closes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dbg.ingest.machines import machine, work

from am_rpc.dbg import connect


def main() -> None:
    url, prefix, n, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    stepped = "--wait" in sys.argv
    machs = []
    for k in range(n):
        m, produced = machine(f"{prefix}-{k}")
        machs.append((m, produced, connect(m, url)))
    i = 0
    for i in range(rounds):
        for m, _, _ in machs:
            work(m, i)
    if stepped:
        print("ready", flush=True)
        for _ in sys.stdin:
            i += 1
            for m, _, _ in machs:
                work(m, i)
            print("ok", flush=True)
    ok = all(t.close(10.0) for _, _, t in machs)
    print(json.dumps({"ok": ok, "produced": {m.id: len(p.txs) for m, p, _ in machs}}), flush=True)


if __name__ == "__main__":
    main()
