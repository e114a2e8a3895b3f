"""``python -m am_rpc.node worker|supervisor ...``: the node processes (docs/workers.md).

Each prints ``AM_NODE_ADDR <host:port>`` on stdout once it serves, and stops on SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

ADDR_LINE = "AM_NODE_ADDR"


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _quiet_stdout() -> None:
    """Nobody reads the pipe after the address line: a job's prints must never block on it."""
    import os

    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.close(fd)


def _worker(ns: argparse.Namespace) -> int:
    from am_rpc.node.worker import Worker

    w = Worker(ns.id, parent_id=ns.parent_id, orphan_timeout=ns.orphan_timeout)
    _stop_on_signals(w.stopped)
    w.start()
    try:
        print(ADDR_LINE, w.addr, flush=True)
    except BrokenPipeError:  # the supervisor is gone before it read the address
        w.close()
        return 1
    _quiet_stdout()
    w.stopped.wait()
    w.close()
    return 0


def _supervisor(ns: argparse.Namespace) -> int:
    from am_rpc.node.supervisor import Supervisor, SupervisorOpts

    opts = SupervisorOpts(
        min=ns.min,
        max=ns.max if ns.max else ns.min,
        heartbeat=ns.heartbeat,
        heartbeat_timeout=ns.heartbeat_timeout,
        orphan_timeout=ns.orphan_timeout,
        idle_timeout=ns.idle_timeout,
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    sup = Supervisor(ns.pool_dir, id=ns.id, opts=opts).start()
    print(ADDR_LINE, sup.addr, flush=True)
    stop.wait()
    sup.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m am_rpc.node", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("worker", help="one worker process (a supervisor starts these)")
    w.add_argument("--id", required=True)
    w.add_argument("--parent-id", default="")
    w.add_argument("--orphan-timeout", type=float, default=30.0)
    s = sub.add_parser("supervisor", help="a supervisor (active, or standby for the same pool dir)")
    s.add_argument("--pool-dir", required=True, help="shared by the active and standby supervisors")
    s.add_argument("--id", default="")
    s.add_argument("--min", type=int, default=2)
    s.add_argument("--max", type=int, default=0, help="default: --min")
    s.add_argument("--heartbeat", type=float, default=1.0)
    s.add_argument("--heartbeat-timeout", type=float, default=2.0)
    s.add_argument("--orphan-timeout", type=float, default=30.0)
    s.add_argument("--idle-timeout", type=float, default=30.0)
    ns = p.parse_args(argv)
    return _worker(ns) if ns.cmd == "worker" else _supervisor(ns)


if __name__ == "__main__":
    sys.exit(main())
