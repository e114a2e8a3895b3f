"""am_core throughput vs pytransitions, python-statemachine and automat (run: python bench/core.py).

Case 1, the toggle: a 2-state machine (A, B; exclusive) switched back and forth, one handler per
transition (the entered state's handler). Every library runs the same number of transitions, in
chunks interleaved across libraries; the best chunk of each is kept. Time is this process's CPU
time (``time.process_time``), so other processes on a busy machine do not skew the comparison.
Prints transitions/s per library and the ratio am_core / transitions.

Case 2, relation-heavy: 20 states with Require chains, an exclusive group (Remove), Auto states and
Add relations; reports µs per mutation call (each call may run an extra auto transition) and per
transition: memoised (the default), with step recording on (memoised plans replay their steps),
and with step recording on and memoisation off (full relation resolution every transition).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from am_core import Event, Machine, State, Tracer

# CPU time of this process: fair on a machine shared with other work
CLOCK = time.process_time


class _Counter:
    def __init__(self) -> None:
        self.n = 0


def make_am_core(n: int) -> Callable[[], int]:
    mach = Machine({"A": State(remove=["B"]), "B": State(remove=["A"])}, id="bench-toggle")
    mach.add1("A")
    c = _Counter()

    class Handlers:
        def AState(self, e: Event) -> None:
            c.n += 1

        def BState(self, e: Event) -> None:
            c.n += 1

    mach.handlers_bind(Handlers())
    add1 = mach.add1

    def run() -> int:
        c.n = 0
        for _ in range(n // 2):
            add1("B")
            add1("A")
        assert c.n == n, c.n
        assert mach.is1("A") and not mach.is1("B")
        return c.n

    return run


def make_transitions(n: int) -> Callable[[], int]:
    from transitions import Machine as TMachine

    c = _Counter()

    class Model:
        def on_enter_A(self) -> None:
            c.n += 1

        def on_enter_B(self) -> None:
            c.n += 1

    model = Model()
    TMachine(
        model=model,
        states=["A", "B"],
        transitions=[["toggle", "A", "B"], ["toggle", "B", "A"]],
        initial="A",
    )
    toggle = model.toggle  # type: ignore[attr-defined]

    def run() -> int:
        c.n = 0
        for _ in range(n):
            toggle()
        assert c.n == n
        return c.n

    return run


def make_statemachine(n: int) -> Callable[[], int]:
    from statemachine import State as SMState
    from statemachine import StateMachine

    c = _Counter()

    class Toggle(StateMachine):
        a = SMState(initial=True)
        b = SMState()
        toggle = a.to(b) | b.to(a)

        def on_enter_a(self) -> None:
            c.n += 1

        def on_enter_b(self) -> None:
            c.n += 1

    sm = Toggle()
    c.n = 0

    def run() -> int:
        c.n = 0
        send = sm.toggle
        for _ in range(n):
            send()
        assert c.n == n
        return c.n

    return run


def make_automat(n: int) -> Callable[[], int]:
    from automat import MethodicalMachine

    c = _Counter()

    class Toggle:
        _machine = MethodicalMachine()

        @_machine.state(initial=True)
        def a(self) -> None:
            "state a"

        @_machine.state()
        def b(self) -> None:
            "state b"

        @_machine.input()
        def toggle(self) -> None:
            "toggle input"

        @_machine.output()
        def entered(self) -> None:
            c.n += 1

        a.upon(toggle, enter=b, outputs=[entered])
        b.upon(toggle, enter=a, outputs=[entered])

    t = Toggle()

    def run() -> int:
        c.n = 0
        for _ in range(n):
            t.toggle()
        assert c.n == n
        return c.n

    return run


def best_rates(cases: dict[str, Callable[[], int]], chunks: int) -> dict[str, float]:
    """Interleave the libraries chunk by chunk; keep the best transitions/s of each.

    Fine-grained interleaving makes the comparison fair on a busy machine: every library gets
    chunks in the quiet moments too.
    """
    best = {k: 0.0 for k in cases}
    gc.collect()
    for _ in range(chunks):
        for name, fn in cases.items():
            t0 = CLOCK()
            done = fn()
            dt = CLOCK() - t0
            if dt > 0:
                best[name] = max(best[name], done / dt)
    return best


# ------------------------------------------------------------------ relation-heavy


def heavy_schema() -> dict[str, State]:
    s: dict[str, State] = {}
    # a Require chain C0 <- C1 <- ... <- C7
    s["C0"] = State()
    for i in range(1, 8):
        s[f"C{i}"] = State(require=[f"C{i - 1}"])
    # an exclusive group G0..G4 (each removes the others)
    group = [f"G{i}" for i in range(5)]
    for g in group:
        s[g] = State(remove=list(group))
    # auto states following the chain and the group
    s["U0"] = State(auto=True, require=["C3", "G1"])
    s["U1"] = State(auto=True, require=["U0", "C7"], add=["X1"])
    s["U2"] = State(auto=True, require=["G3"], remove=["C7"])
    s["X0"] = State(add=["X1"], remove=["G4"])
    s["X1"] = State(after=["X0"])
    s["X2"] = State(multi=True, require=["C0"])
    s["X3"] = State(auto=True, require=["X2", "G0"])
    assert len(s) == 20
    return s


HEAVY_STEPS: list[tuple[str, list[str]]] = [
    ("add", ["C0", "C1", "C2", "C3"]),
    ("add", ["G1"]),
    ("add", ["C4", "C5", "C6", "C7"]),
    ("add", ["X2"]),
    ("add", ["X0"]),
    ("add", ["G3"]),
    ("remove", ["C0"]),
    ("add", ["G4"]),
    ("set", ["C0", "G0"]),
    ("remove", ["G0", "X0", "X1"]),
]


class _TxCounter(Tracer):
    def __init__(self) -> None:
        self.n = 0

    def transition_end(self, tx: object) -> None:
        self.n += 1


def make_heavy(n_cycles: int, steps_on: bool, memo: bool = True) -> tuple[Callable[[], int], int]:
    mach = Machine(heavy_schema(), id="bench-heavy")
    if steps_on:
        mach.semlogger().enable_steps(True)
    mach._memo = memo  # off: full relation resolution on every transition

    class Handlers:
        def C3State(self, e: Event) -> None:
            pass

        def G1Enter(self, e: Event) -> bool:
            return True

        def U0State(self, e: Event) -> None:
            pass

        def X2State(self, e: Event) -> None:
            pass

    mach.handlers_bind(Handlers())
    calls = [(getattr(mach, op), states) for op, states in HEAVY_STEPS]

    def run() -> int:
        for _ in range(n_cycles):
            for fn, states in calls:
                fn(states)
        mach.set([])
        return n_cycles * len(calls) + 1

    # transitions per cycle, counted once with a tracer
    counter = _TxCounter()
    mach.tracer_bind(counter)
    run()
    txs_per_call = counter.n / (n_cycles * len(calls) + 1)
    mach.tracer_detach(counter)
    return run, round(txs_per_call * 100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100_000, help="transitions per library (toggle)")
    ap.add_argument("--chunk", type=int, default=5_000, help="transitions per timed chunk")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the n transitions")
    ap.add_argument("--heavy-cycles", type=int, default=2_000)
    args = ap.parse_args()
    chunk = max(2, args.chunk - args.chunk % 2)
    n_chunks = max(1, args.n // chunk) * args.rounds

    cases: dict[str, Callable[[], int]] = {"am_core": make_am_core(chunk)}
    # python-statemachine is ~30x slower: smaller chunks (rates are per transition)
    small = max(2, chunk // 20)
    for name, mk, size in (
        ("transitions", make_transitions, chunk),
        ("python-statemachine", make_statemachine, small),
        ("automat", make_automat, chunk),
    ):
        try:
            cases[name] = mk(size)
        except ImportError as err:
            print(f"skipping {name}: {err}", file=sys.stderr)
    print(
        f"toggle: {args.n:,} transitions x {args.rounds} per library in {chunk:,}-transition "
        f"chunks (python-statemachine {small:,}), interleaved; best chunk of each"
    )
    rates = best_rates(cases, n_chunks)
    for name, r in rates.items():
        print(f"  {name:<20} {r:>12,.0f} transitions/s  ({1e6 / r:6.2f} µs/transition)")
    if "transitions" in rates:
        print(f"  ratio am_core / transitions: {rates['am_core'] / rates['transitions']:.2f}x")

    print(f"relation-heavy: 20 states, {args.heavy_cycles * len(HEAVY_STEPS):,} mutation calls")
    for label, steps_on, memo in (
        ("memoised", False, True),
        ("steps on, memoised", True, True),
        ("steps on, full resolve", True, False),
    ):
        run, tx100 = make_heavy(args.heavy_cycles, steps_on, memo)
        best = float("inf")
        calls = 0
        for _ in range(args.rounds):
            gc.collect()
            t0 = CLOCK()
            calls = run()
            best = min(best, CLOCK() - t0)
        per_call = best / calls * 1e6
        per_tx = per_call / (tx100 / 100)
        print(
            f"  {label:<23} {per_call:6.2f} µs/mutation call, {tx100 / 100:.2f} transitions/call, "
            f"{per_tx:6.2f} µs/transition"
        )


if __name__ == "__main__":
    main()
