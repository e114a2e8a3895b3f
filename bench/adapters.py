"""Overhead per transition of the am-dbg adapters vs the bare library (run: python bench/adapters.py).

Each library toggles a 2-state machine (``go``: a -> b, ``back``: b -> a) with one enter
callback, bare and with its adapter attached to a real headless am-dbg started by this script
(so the cost includes packing and delivery on the sender's thread). Runs are chunked and
interleaved (bare, attached, bare, ...) and the best chunk of each is kept; the clock is this
process's CPU time (``time.process_time``, all its threads), so other work on the box does not skew
it. Prints µs per transition and the ratio attached / bare (target: <= 2x).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from statemachine import State, StateMachine  # noqa: E402
from transitions import Machine  # noqa: E402

from am_dbg.adapters import statemachine as sm_adapter  # noqa: E402
from am_dbg.adapters import transitions as tr_adapter  # noqa: E402

CLOCK = time.process_time


class Model:
    def __init__(self) -> None:
        self.n = 0

    def on_enter_b(self) -> None:
        self.n += 1


def transitions_machine(addr: str | None) -> tuple[Callable[[], None], Any]:
    model = Model()
    m = Machine(
        model,
        states=["a", "b"],
        transitions=[["go", "a", "b"], ["back", "b", "a"]],
        initial="a",
        auto_transitions=False,
    )
    ad = tr_adapter.attach(m, addr, id=f"bench-tr-{id(m)}") if addr else None

    def step() -> None:
        model.go()  # type: ignore[attr-defined]
        model.back()  # type: ignore[attr-defined]

    return step, ad


class Toggle(StateMachine):
    a = State(initial=True)
    b = State()
    go = a.to(b)
    back = b.to(a)

    def on_enter_b(self) -> None:
        pass


def statemachine_machine(addr: str | None) -> tuple[Callable[[], None], Any]:
    sm = Toggle()
    ad = sm_adapter.attach(sm, addr, id=f"bench-sm-{id(sm)}") if addr else None

    def step() -> None:
        sm.go()
        sm.back()

    return step, ad


def best_us(step: Callable[[], None], pairs: int) -> float:
    t0 = CLOCK()
    for _ in range(pairs):
        step()
    return (CLOCK() - t0) / (2 * pairs) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=2000, help="go/back pairs per chunk")
    ap.add_argument("--chunks", type=int, default=5)
    args = ap.parse_args()
    proc = subprocess.Popen(
        [sys.executable, "-m", "am_dbg", "--headless", "-l", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stderr is not None
        m = re.fullmatch(r"listening on (127\.0\.0\.1:\d+)\n", proc.stderr.readline())
        assert m, "am-dbg did not start"
        addr = m.group(1)
        for name, make in (
            ("transitions", transitions_machine),
            ("python-statemachine", statemachine_machine),
        ):
            bare_step, _ = make(None)
            att_step, ad = make(addr)
            bare = att = float("inf")
            for _ in range(args.chunks):
                bare = min(bare, best_us(bare_step, args.pairs))
                att = min(att, best_us(att_step, args.pairs))
            delivered = ad.close(30)
            print(
                f"{name:20s} bare {bare:7.2f} µs/tx  attached {att:7.2f} µs/tx  "
                f"ratio {att / bare:4.2f}x  (delivered: {delivered})"
            )
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


if __name__ == "__main__":
    main()
