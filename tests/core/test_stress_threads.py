"""8 threads x 10,000 mutations on one machine: no lost update, no deadlock, bounded time.

``AM_STRESS_N`` sets the mutations per thread (default 10,000) for slow boxes.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from am_core.event import Event
from am_core.machine import Machine
from am_core.transition import Transition
from am_core.types import Result, State

from .helpers import queue_held

THREADS = 8
PER_THREAD = int(os.environ.get("AM_STRESS_N", "10000"))


class Counter:
    """Tracer: counts accepted transitions and the clock delta each one produced."""

    def __init__(self) -> None:
        self.accepted = 0
        self.ticks = 0

    def transition_end(self, tx: Transition) -> None:
        if tx.is_accepted and not tx.mutation.is_check:
            self.accepted += 1
            self.ticks += sum(tx.time_after) - sum(tx.time_before)


@pytest.mark.timeout(120)
def test_8_threads_mutating_one_machine() -> None:
    names = [f"T{i}" for i in range(THREADS)]
    schema = {n: State() for n in names}
    schema["Hits"] = State(multi=True)
    m = Machine(schema, id="stress", queue_limit=10_000_000)
    counter = Counter()
    m.tracer_bind(counter)

    class H:
        def T0State(self, e: Event) -> None:
            m.add1("Hits")  # queued from a handler, runs after this tx

    m.handlers_bind(H())
    canceled = [0] * THREADS
    last_tick = [0] * THREADS
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            state = names[i]
            start.wait()
            for k in range(PER_THREAD):
                # args disable duplicate suppression: every call is a transition
                r = m.add1(state, {"k": k}) if k % 2 == 0 else m.remove1(state, {"k": k})
                if r == Result.CANCELED:
                    canceled[i] += 1
                elif Result.is_queued(r):
                    last_tick[i] = int(r)
            # every queued mutation of this thread has run once its queue tick passed
            if last_tick[i]:
                assert m.when_queue(last_tick[i]).wait(60)
        except BaseException as err:
            errors.append(err)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(100)
    elapsed = time.monotonic() - t0
    assert not any(t.is_alive() for t in threads), "deadlock: a worker never finished"
    assert not errors, errors
    assert m.when_queue_ends().wait(10)
    assert m.queue_len() == 0

    assert canceled == [0] * THREADS
    # each thread alternated add/remove of its own state: every call ticked it once
    for n in names:
        assert m.tick(n) == PER_THREAD
    activations_t0 = (PER_THREAD + 1) // 2
    # Hits is multi: +1 on its first activation, +2 on every re-activation
    assert m.tick("Hits") == 2 * activations_t0 - 1
    # the final clocks are the sum of what the accepted transitions did
    assert sum(m.time()) == counter.ticks
    assert counter.accepted == THREADS * PER_THREAD + activations_t0
    print(f"\n{counter.accepted} transitions from {THREADS} threads in {elapsed:.2f}s")


def test_mutation_from_another_thread_is_queued_and_drained_by_the_running_thread() -> None:
    m = Machine({"Slow": State(), "Other": State()}, id="q1")
    ran_in: list[int] = []

    class H:
        def OtherState(self, e: Event) -> None:
            ran_in.append(threading.get_ident())

    m.handlers_bind(H())
    with queue_held(m, "Slow") as drainer:
        res = m.add1("Other")  # from this thread, while the queue runs elsewhere
        assert Result.is_queued(res) and not m.is1("Other")
        w = m.when_queue(int(res))
    assert w.wait(5)
    assert m.is1("Other") and ran_in == [drainer.ident]


@pytest.mark.timeout(60)
def test_waiters_registered_while_another_thread_mutates_never_miss_a_change() -> None:
    m = Machine({"A": State(), "B": State()}, id="race")
    stop = threading.Event()
    waiters: list[tuple[Any, int]] = []  # (waiter, A's tick it needs; 0: "A active" / "B off")

    def registrar() -> None:
        while not stop.is_set():
            waiters.append((m.when1("A"), 0))
            waiters.append((m.when_not1("B"), 0))
            t = m.tick("A") + 1
            waiters.append((m.when_time1("A", t), t))

    regs = [threading.Thread(target=registrar, daemon=True) for _ in range(2)]
    for t in regs:
        t.start()
    for _ in range(max(200, PER_THREAD // 10)):
        m.add1("A")
        m.add1("B")
        m.remove1("A")
        m.remove1("B")
    m.add1("A")  # the end: A active, B inactive; nothing changes afterwards
    stop.set()
    for t in regs:
        t.join(10)
    assert len(waiters) > 100
    final_a = m.tick("A")
    # every waiter whose condition holds now must be closed: a missed change is never repeated
    missed = [w for w, need in waiters if need <= final_a and not w.done()]
    assert not missed, f"{len(missed)} of {len(waiters)} waiters missed their change: {missed[:3]}"
