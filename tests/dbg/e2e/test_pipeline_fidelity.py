"""End to end: what am_core produced is what a headless am-dbg recorded, field by field.

A small machine goes through every kind of transition (add / remove / set, canceled by a relation
and by negotiation, auto, multi, an exception in a handler, a mutation queued from a handler, args,
log lines at levels 1-5). A tracer of the test's own notes what am_core reported; the machine
streams through `am_rpc.dbg.connect` into a real `am-dbg --headless --record` process; the
recording is loaded back and every message compared: clocks, called states, type, accepted, the
auto / queued flags, queue ticks, steps, log and pre-log entries, args. Then the history model and
`--print-summary` built from the same file must agree with it.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from am_core import ARG_EXCEPTION, Event, LogLevel, Machine, Result, State, new_log_args_mapper
from am_dbg.model.session import Session
from am_dbg.recordings import load
from am_rpc.dbg import connect
from am_rpc.dbg.protocol import LogEntry, Step, TxMsg
from am_rpc.dbg.sender import add_error_details

ROOT = Path(__file__).resolve().parents[3]
MID = "e2e-fidelity"

SCHEMA = {
    "A": State(),
    "B": State(require=["C"]),  # canceled by a relation while C is inactive
    "C": State(),
    "D": State(),  # DEnter refuses without ok=1: canceled by negotiation
    "Auto": State(auto=True, require=["A"]),
    "Multi": State(multi=True),
    "Boom": State(),  # BoomState raises: Exception
    "Chain": State(),  # ChainState queues a mutation from inside the handler
}


class Handlers:
    def DEnter(self, e: Event) -> bool:
        return e.args.get("ok") == 1

    def BoomState(self, e: Event) -> None:
        raise ValueError("boom in a handler")

    def ChainState(self, e: Event) -> None:
        mach = e.machine()
        assert mach is not None
        res = mach.add1("C", {"id": "from-chain"})
        assert Result.is_queued(res)
        mach.log("queued C at tick %d", int(res))

    def AState(self, e: Event) -> None:
        mach = e.machine()
        assert mach is not None
        mach.log("A is up, id=%s", e.args.get("id"))


class Recorder:
    """The test's own tracer: what am_core reported, in the order the hooks ran."""

    def __init__(self, mach: Machine) -> None:
        self.mach = mach
        self.idx = {n: i for i, n in enumerate(mach.state_names())}
        self.msgs: list[dict[str, Any]] = []
        self.last_id = "init"  # docs/protocol.md: queued ids before the first tx
        self.last_clocks: tuple[int, ...] = tuple(mach.time())
        self.n_queued = 0

    def _args(self, args: dict[str, Any]) -> dict[str, str]:
        mapper = self.mach.semlogger().args_mapper()
        return (mapper(args) or {}) if mapper and args else {}

    def transition_end(self, tx: Any) -> None:
        mut = tx.mutation
        self.msgs.append(
            {
                "id": tx.id,
                "clocks": tuple(tx.time_after),
                "type": int(mut.type),
                "called": tuple(self.idx[s] for s in mut.called),
                "accepted": bool(tx.is_accepted),
                "is_auto": bool(mut.is_auto),
                "is_queued": False,
                "queue_tick": tx.queue_tick,
                "queue_len": tx.queue_len,
                "steps": tuple(
                    Step(
                        type=int(st.type),
                        from_idx=self.idx[st.from_state] if st.from_state else -1,
                        to_idx=self.idx[st.to_state] if st.to_state else -1,
                        rel_type=int(st.rel_type or 0),
                        is_final=st.is_final,
                        is_self=st.is_self,
                        is_enter=st.is_enter,
                    )
                    for st in tx.steps
                ),
                "log": tuple(LogEntry(int(e.level), e.text) for e in tx.log_entries),
                "pre_log": tuple(LogEntry(int(e.level), e.text) for e in tx.pre_log_entries),
                "args": self._args(mut.args),
                "names": (list(mut.called), int(mut.type)),  # for the coverage checks below
            }
        )
        if "Exception" in mut.called and ARG_EXCEPTION in (mut.args or {}):
            # the sender adds the error text and line (docs/protocol.md "Errors ... by default")
            want = self.msgs[-1]
            wire = {"log": [[e.level, e.text] for e in want["log"]], "args": dict(want["args"])}
            add_error_details(wire, mut.args[ARG_EXCEPTION], tx)
            want["log"] = tuple(LogEntry(lvl, text) for lvl, text in wire["log"])
            want["args"] = wire["args"]
        self.last_id, self.last_clocks, self.n_queued = tx.id, tuple(tx.time_after), 0

    def mutation_queued(self, machine: Any, mutation: Any) -> None:
        self.msgs.append(
            {
                "id": f"{self.last_id}-{self.n_queued}",
                "clocks": self.last_clocks,
                "type": int(mutation.type),
                "called": tuple(self.idx[s] for s in mutation.called),
                "is_auto": bool(mutation.is_auto),
                "is_queued": True,
                "queue_tick": machine.queue_tick(),
                "mut_queue_tick": mutation.queue_tick,
                "args": self._args(mutation.args),
            }
        )
        exc = (mutation.args or {}).get(ARG_EXCEPTION)
        if exc is not None:
            self.msgs[-1]["args"] = {**self.msgs[-1]["args"], "err": str(exc.err)}
        self.n_queued += 1


def _run_machine(addr: str) -> tuple[Machine, Recorder]:
    mach = Machine(SCHEMA, id=MID, tags=["e2e", "fidelity"])
    mach.verify_states([*SCHEMA, "Exception"])
    slog = mach.semlogger()
    slog.set_empty(LogLevel.EVERYTHING)  # every level reaches the debugger, nothing is printed
    slog.set_args_mapper(new_log_args_mapper(40, ["id", "ok", "err"]))
    mach.handlers_bind(Handlers())
    rec = Recorder(mach)
    mach.tracer_bind(rec)  # before the sender: both see every hook in the same order
    tracer = connect(mach, addr)

    mach.log("before anything")  # level 1, becomes a pre-log entry of the next transition
    assert mach.add1("A", {"id": 1}) == Result.EXECUTED  # + Auto, by an auto transition
    assert mach.add1("B") == Result.CANCELED  # relation: B requires C
    assert mach.add1("D", {"ok": 0}) == Result.CANCELED  # negotiation
    assert mach.add1("D", {"ok": 1}) == Result.EXECUTED
    assert mach.add1("Multi", {"id": "m1"}) == Result.EXECUTED
    assert mach.add1("Multi", {"id": "m2"}) == Result.EXECUTED  # re-activates while active
    assert mach.set(["C", "D"]) == Result.EXECUTED  # drops A, Auto, Multi
    assert mach.add1("B") == Result.EXECUTED
    assert mach.remove(["B", "C"]) == Result.EXECUTED
    assert mach.add1("Boom") == Result.CANCELED  # the handler raises: Exception instead
    assert mach.is1("Exception")
    assert mach.remove1("Exception") == Result.EXECUTED
    assert mach.add1("Chain") == Result.EXECUTED  # ChainState queues add C
    assert mach.is1("C")
    assert tracer.close(10.0), "the sender could not deliver everything"
    return mach, rec


def _expected_fields(want: dict[str, Any], got: TxMsg) -> dict[str, Any]:
    """The fields of `got` that `want` describes, in `want`'s shape."""
    return {k: getattr(got, k) for k in want if k != "names"}


def test_every_field_survives_sender_ingest_recording_and_load(tmp_path: Path) -> None:
    path = tmp_path / "e2e.amdbg"
    proc = subprocess.Popen(
        [sys.executable, "-m", "am_dbg", "--headless", "-l", "127.0.0.1:0", "--record", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", first)
        assert m, first
        mach, rec = _run_machine(f"127.0.0.1:{m.group(1)}")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err

    # the scenario really covers every kind it claims to
    txs = [w for w in rec.msgs if not w["is_queued"]]
    assert {w["type"] for w in txs} == {0, 1, 2}  # add, remove, set
    assert any(not w["accepted"] and not w["steps"][-1].is_final for w in txs if w["steps"])
    assert any(w["is_auto"] and w["accepted"] for w in txs)
    assert any(w["names"][0] == ["Exception"] for w in txs)
    assert any(w["is_queued"] and w["called"] == (rec.idx["C"],) for w in rec.msgs[1:])
    levels = {e.level for w in txs for e in (*w["log"], *w["pre_log"])}
    assert levels == {1, 2, 3, 4, 5}
    assert any(w["args"] for w in txs) and any(w["steps"] for w in txs)

    got = load(path)
    assert got.warnings == []
    assert len(got.machines) == 1
    schema, msgs = got.machines[0]
    assert schema.id == MID and schema.tags == ("e2e", "fidelity")
    assert schema.states_index == tuple(mach.state_names())
    assert schema.states["B"].require == ("C",)
    assert schema.states["Auto"].auto and schema.states["Multi"].multi
    assert got.disconnected == {MID: True}
    msgs = list(msgs)
    assert len(msgs) == len(rec.msgs)
    for i, (want, have) in enumerate(zip(rec.msgs, msgs, strict=True)):
        assert have.mach_id == MID
        assert _expected_fields(want, have) == {k: v for k, v in want.items() if k != "names"}, i
    stamps = [t.time for t in msgs]
    assert all(stamps) and stamps == sorted(stamps)  # stamped on receipt, in order
    assert msgs[-1].clocks == tuple(mach.time())

    # the history model built from the file indexes the same transitions
    session = Session()
    session.load(got.machines)
    h = session.machines[MID]
    assert [h.info(i).id for i in range(len(h))] == [w["id"] for w in rec.msgs]
    assert [h.clocks(i) for i in range(len(h))] == [w["clocks"] for w in rec.msgs]

    # and the summary counts them apart
    out = subprocess.run(
        [sys.executable, "-m", "am_dbg", "-i", str(path), "--print-summary"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
    (summary,) = json.loads(out.stdout)["machines"]
    assert summary == {
        "id": MID,
        "parent_id": None,
        "tags": ["e2e", "fidelity"],
        "states": list(mach.state_names()),
        "transitions": len(txs),
        "queued": len(rec.msgs) - len(txs),
        "disconnected": True,
    }
