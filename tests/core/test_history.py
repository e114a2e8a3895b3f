"""History (am_core.history): queries over memory and a real SQLite file, across a process
restart, and a restored machine continuing its clocks (docs/telemetry.md#history)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from am_core import Machine, State
from am_core.history import HistoryError, MemoryHistory, SQLiteHistory

ROOT = Path(__file__).resolve().parents[2]

SCHEMA_SRC = """
from am_core import Machine, State
def make():
    return Machine(
        {"A": State(remove=["B"]), "B": State(remove=["A"]), "C": State(),
         "Untracked": State(), "MachineRestored": State()},
        id="hist-m1",
    )
"""


def _run(code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCHEMA_SRC) + textwrap.dedent(code), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


WRITER = """
import json, sys, time
from am_core.history import SQLiteHistory
m = make()
h = SQLiteHistory(sys.argv[1], "hist-m1")
h.track(m, states=["A", "B", "C"])
t0 = time.time()
for i in range(50_000):
    m.add1("A"); m.add1("B")
    if i == 24_999:
        m.add1("C")
        mid_wall, mid_mtime = time.time(), sum(m.time())
m.remove1("C")
m.add1("Untracked")
# no close(): what is queued is committed at exit
print(json.dumps({"t0": t0, "mid_wall": mid_wall, "mid_mtime": mid_mtime, "time": list(m.time()),
                  "queue_tick": m.queue_tick()}))
"""

READER = """
import json, sys
from am_core.history import SQLiteHistory
h = SQLiteHistory(sys.argv[1], "hist-m1")
mid_w, mid_m = float(sys.argv[2]), int(sys.argv[3])
last_a = h.last_transitions("A", 3)
last_c = h.last_transitions("C", 5)
out = {
    "count": h.count(),
    "c_activated_before_mid": h.activated_between("C", 0, mid_w),
    "c_activated_by_mtime": h.activated_between("C", mid_m - 1, mid_m, by="machine"),
    "c_activated_late": h.activated_between("C", mid_m + 1, 10**9, by="machine"),
    "c_deactivated_late": h.deactivated_between("C", mid_m + 1, 10**9, by="machine"),
    "c_active_before": h.active_between("C", 0, mid_m - 2, by="machine"),
    "c_active_after_mid": h.active_between("C", mid_m + 10, mid_m + 20, by="machine"),
    "a_active_at_mid": h.active_at("A", mid_m, by="machine"),
    "last_a": [[r.id, r.called, r.activated, r.deactivated, r.ticks] for r in last_a],
    "last_c": [[r.id, r.called, r.activated, r.deactivated] for r in last_c],
}
m = make()
rec = h.restore(m)
out["restored_time"] = list(m.time())
out["restored_active"] = m.active_states()
out["restored_machine_tick"] = m.machine_tick()
h.track(m, states=["A", "B", "C"])
m.add1("A")
out["continued_a_tick"] = m.tick("A")
out["after_restore"] = [[r.id, r.called, r.ticks["A"]] for r in h.last(2)]
h.close()
print(json.dumps(out))
"""


def test_sqlite_100k_transitions_across_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "hist.db")
    w = _run(WRITER, db)
    r = _run(READER, db, repr(w["mid_wall"]), str(w["mid_mtime"]))
    # 100,000 toggles + C on + C off; the Untracked add is not recorded
    assert r["count"] == 100_002
    assert r["c_activated_before_mid"] is True
    assert r["c_activated_by_mtime"] is True
    assert r["c_activated_late"] is False
    assert r["c_deactivated_late"] is True
    assert r["c_active_before"] is False
    assert r["c_active_after_mid"] is True
    assert r["a_active_at_mid"] is False  # the pair ends with B
    ta = w["time"]
    assert r["last_a"][0] == [100_001, ["B"], ["B"], ["A"], {"A": ta[0], "B": ta[1], "C": 1}]
    assert [x[0] for x in r["last_a"]] == [100_001, 100_000, 99_999]
    assert r["last_c"] == [[100_002, ["C"], [], ["C"]], [50_001, ["C"], ["C"], []]]
    # the restored machine has the clocks of the writer's last transition, the untracked one too
    restored = r["restored_time"]
    assert restored[:4] == ta[:4]
    assert restored[4] == 1  # MachineRestored, added by import_
    assert set(r["restored_active"]) == {"B", "Untracked", "MachineRestored"}
    assert r["restored_machine_tick"] == 1
    assert r["continued_a_tick"] == ta[0] + 1
    assert r["after_restore"][0] == [100_003, ["A"], ta[0] + 1]


def _toggle() -> Machine:
    return Machine(
        {"A": State(remove=["B"]), "B": State(remove=["A"]), "C": State(multi=True)}, id="mem1"
    )


def test_memory_queries_and_bound() -> None:
    m = _toggle()
    h = MemoryHistory("mem1", max_records=5)
    h.track(m, states=["A", "C"])
    m.add1("A")
    m.add1("B")  # deactivates A: recorded
    m.add1("C")
    m.add1("C")  # multi re-tick: activated again
    m.add1("B")  # changes no tracked state and calls none: not recorded
    assert h.count() == 4
    last_c = h.last_transitions("C", 5)
    assert [(r.id, r.called, r.activated, r.ticks) for r in last_c] == [
        (4, ["C"], ["C"], {"A": 2, "C": 3}),
        (3, ["C"], ["C"], {"A": 2, "C": 1}),
    ]
    mt = last_c[-1].machine_time
    assert h.activated_between("C", mt, mt, by="machine")
    assert not h.activated_between("A", mt, mt, by="machine")
    assert h.deactivated_between("A", 0, mt, by="machine")
    assert not h.active_between("A", mt, mt + 10, by="machine")
    for _ in range(3):
        m.add1("A")
        m.add1("B")
    # bounded: the newest 5 of 10 records stay
    assert h.count() == 5
    assert [r.id for r in h.last(5)] == [10, 9, 8, 7, 6]
    assert h.last_transitions("C", 5) == []
    assert h.active_between("A", mt, 10**9, by="machine")


def test_errors_name_what_is_wrong(tmp_path: Path) -> None:
    m = _toggle()
    h = MemoryHistory("mem1")
    with pytest.raises(HistoryError, match="unknown states: Nope"):
        h.track(m, states=["A", "Nope"])
    with pytest.raises(HistoryError, match="for machine mem1, not other"):
        h.track(Machine({"A": State()}, id="other"))
    h.track(m, states=["A"])
    with pytest.raises(HistoryError, match="state B is not tracked"):
        h.last_transitions("B")
    with pytest.raises(HistoryError, match="unknown clock 'tick'"):
        h.activated_between("A", 0, 1, by="tick")
    empty = SQLiteHistory(tmp_path / "empty.db", "nobody")
    with pytest.raises(HistoryError, match="no history of machine nobody"):
        empty.restore(Machine({"A": State()}, id="nobody"))
    empty.close()


def test_machines_share_a_file_and_tracked_sets_change(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    m1, m2 = _toggle(), Machine({"A": State(), "B": State()}, id="other")
    h1, h2 = SQLiteHistory(db, "mem1"), SQLiteHistory(db, "other")
    h1.track(m1, states=["A", "B"])
    h2.track(m2, states=["B"])
    m1.add1("A")
    m2.add1("A")  # untracked there
    m2.add1("B")
    assert (h1.count(), h2.count()) == (1, 1)
    assert h2.last(1)[0].ticks == {"B": 1}
    h1.close()
    # the next run tracks other states: older records keep their own tick layout
    h1 = SQLiteHistory(db, "mem1")
    m1b = _toggle()
    h1.restore(m1b)
    h1.track(m1b, states=["C"])
    m1b.add1("C")
    assert [r.ticks for r in h1.last(2)] == [{"C": 1}, {"A": 1, "B": 0}]
    with pytest.raises(HistoryError, match="state A is not tracked"):
        h1.last_transitions("A")
    h1.close()
    h2.close()


def test_restore_into_a_tracked_machine_with_another_state_order(tmp_path: Path) -> None:
    schema = {"A": State(), "B": State(), "MachineRestored": State()}
    db = tmp_path / "order.db"
    m = Machine(schema, id="ord")
    m.verify_states(["B", "A", "MachineRestored", "Exception"])
    h = SQLiteHistory(db, "ord")
    h.track(m, states=["A", "B", "MachineRestored"])
    m.add1("A")
    m.add1("A")  # no change, but A was called: recorded
    m.add(["B"])
    h.close()
    m2 = Machine(schema, id="ord")  # default order: A, B, ...
    h2 = SQLiteHistory(db, "ord")
    h2.track(m2, states=["A", "B", "MachineRestored"], restore=True)
    assert m2.state_names()[:2] == ["B", "A"]
    assert m2.machine_tick() == 1
    last = h2.last(1)[0]
    assert last.called == ["MachineRestored"] and last.id == 4
    assert last.ticks == {"A": 1, "B": 1, "MachineRestored": 1}
    m2.remove1("A")
    assert h2.last(1)[0].ticks == {"A": 2, "B": 1, "MachineRestored": 1}
    h2.close()
