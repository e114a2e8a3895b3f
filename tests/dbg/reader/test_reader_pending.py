"""A queued message with no executing transition says why, never "executed at ???"."""

from __future__ import annotations

from am_dbg.model.reader import Reader
from am_dbg.model.session import Session
from am_rpc.dbg.protocol import SchemaMsg, StateDef, TxMsg


def _session(last_tick: int) -> Session:
    names = ("A", "B")
    schema = SchemaMsg(id="m", states_index=names, states={n: StateDef() for n in names})
    txs = [
        TxMsg(mach_id="m", id="t1", clocks=(1, 0), called=(0,), queue_tick=1),
        TxMsg(
            mach_id="m",
            id="t1-0",
            clocks=(1, 0),
            called=(1,),
            is_queued=True,
            queue_tick=1,
            mut_queue_tick=3,
        ),
        TxMsg(mach_id="m", id="t2", clocks=(3, 0), called=(0,), queue_tick=last_tick),
    ]
    s = Session()
    s.load([(schema, txs)])
    return s


def _queue_texts(s: Session) -> list[str]:
    return [n.text for s_ in Reader(s).sections("m", 1) if s_.name == "Queue" for n in s_.nodes]


def test_a_queued_message_still_in_the_queue_is_pending() -> None:
    texts = _queue_texts(_session(last_tick=2))
    assert "pending: not executed yet" in texts
    assert not any("???" in t for t in texts)


def test_a_queued_message_the_queue_passed_was_dropped() -> None:
    texts = _queue_texts(_session(last_tick=5))
    assert "not executed: the queue passed q3 (canceled or dropped)" in texts
