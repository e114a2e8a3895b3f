"""The telemetry message definitions: lossless round trips and clear refusals of bad input."""

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from am_rpc.dbg.protocol import LogEntry, MessageError, SchemaMsg, StateDef, Step, TxMsg


def _roundtrip(wire: dict) -> dict:
    return msgpack.unpackb(msgpack.packb(wire))


def test_schema_round_trip_keeps_every_field() -> None:
    schema = SchemaMsg(
        id="worker-1",
        states_index=("Start", "Ready", "Exception"),
        states={
            "Start": StateDef(add=("Ready",), tags=("init",)),
            "Ready": StateDef(require=("Start",), auto=True),
            "Exception": StateDef(multi=True),
        },
        groups={"self": (0, 1), "BasicStatesDef": (2,)},
        groups_order=("self", "BasicStatesDef"),
        parent="pool",
        tags=("kind:worker",),
        token="abc123",
    )
    assert SchemaMsg.from_wire(_roundtrip(schema.to_wire())) == schema


def test_tx_round_trip_keeps_every_field() -> None:
    tx = TxMsg(
        mach_id="m",
        id="tx1",
        clocks=(1, 2, 3),
        type=2,
        called=(0, 2),
        accepted=False,
        is_auto=True,
        is_check=True,
        is_queued=True,
        queue_tick=7,
        mut_queue_tick=9,
        mut_queue_token=11,
        queue_len=3,
        steps=(Step(type=1, from_idx=0, to_idx=2, rel_type=3, is_final=True, is_enter=True),),
        log=(LogEntry(2, "[state] +A"),),
        pre_log=(LogEntry(1, "[extern] hi"),),
        args={"id": "5"},
        queue_dump=("add A",),
        stack_trace="trace",
        time=1_700_000_000_000_000_000,
    )
    assert TxMsg.from_wire(_roundtrip(tx.to_wire())) == tx


def test_unknown_keys_are_ignored() -> None:
    wire = TxMsg(mach_id="m", id="t", clocks=(1,)).to_wire()
    wire["future"] = {"x": 1}
    assert TxMsg.from_wire(wire).id == "t"


@pytest.mark.parametrize(
    ("wire", "needle"),
    [
        ({"id": "t", "c": []}, "'m'"),
        ({"m": "x", "id": "t", "c": ["a"]}, "'c'"),
        ({"m": "x", "id": "t", "c": [1], "steps": [[1, 2]]}, "step"),
        ({"m": "x", "id": "t", "c": [1], "acc": "yes"}, "'acc'"),
    ],
)
def test_bad_tx_names_the_problem(wire: dict, needle: str) -> None:
    with pytest.raises(MessageError, match=needle):
        TxMsg.from_wire(wire)


def test_schema_index_without_definition_is_refused() -> None:
    with pytest.raises(MessageError, match="'B'"):
        SchemaMsg.from_wire({"id": "m", "idx": ["A", "B"], "states": {"A": {}}})


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_random_values_raise_only_message_error(value: object) -> None:
    for cls in (TxMsg, SchemaMsg):
        try:
            cls.from_wire(value)
        except MessageError:
            pass
