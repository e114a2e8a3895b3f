"""Go am-dbg dumps become our messages: the shipped 2024 fixture and the current Go format."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import brotli
import pytest
from am_go_types import export_type, old_export_type
from gob_writer import STRING, GobWriter, Iface, T, go_time, sint

from am_dbg.recordings.errors import GobError, RecordingError
from am_dbg.recordings.gob import decode_gob
from am_dbg.recordings.gob_import import (
    GobDumpInfo,
    decompress_dump,
    import_gob_stream,
    read_gob_dump,
)
from am_rpc.dbg.protocol import LogEntry, SchemaMsg, StateDef, Step, TxMsg

FIXTURE = Path("tests/data/am-dbg-sim.gob.br")
if not FIXTURE.exists():  # pytest started from elsewhere
    FIXTURE = Path(__file__).parents[2] / "data" / "am-dbg-sim.gob.br"

# Transition counts per machine. The total (7,605) and the machine count (107) match Go's own
# decoding of the file (spec/go-dumps.md); the per-machine figures are the MsgTxs lengths.
COUNTS = {
    "ps-0": 65, "ps-0-disc": 121, "ps-1": 108, "ps-1-disc": 78, "ps-10": 138, "ps-10-disc": 230,
    "ps-11": 87, "ps-11-disc": 107, "ps-12": 105, "ps-12-disc": 118, "ps-13": 26,
    "ps-13-disc": 82, "ps-14": 54, "ps-14-disc": 59, "ps-15": 99, "ps-15-disc": 155,
    "ps-16": 132, "ps-16-disc": 84, "ps-17": 92, "ps-17-disc": 82, "ps-18": 93, "ps-18-disc": 90,
    "ps-19": 76, "ps-19-disc": 63, "ps-2": 84, "ps-2-disc": 105, "ps-20": 151, "ps-20-disc": 159,
    "ps-21": 118, "ps-21-disc": 149, "ps-22": 2, "ps-22-disc": 48, "ps-23": 170,
    "ps-23-disc": 215, "ps-24": 75, "ps-24-disc": 92, "ps-25": 107, "ps-25-disc": 104,
    "ps-26": 137, "ps-26-disc": 210, "ps-27": 89, "ps-27-disc": 62, "ps-28": 41, "ps-28-disc": 61,
    "ps-29": 145, "ps-29-disc": 88, "ps-3": 104, "ps-3-disc": 186, "ps-4": 160, "ps-4-disc": 237,
    "ps-5": 105, "ps-5-disc": 203, "ps-6": 74, "ps-6-disc": 150, "ps-7": 119, "ps-7-disc": 92,
    "ps-8": 38, "ps-8-disc": 55, "ps-9": 167, "ps-9-disc": 237, "sim": 219, "sim-p0": 17,
    "sim-p1": 21, "sim-p10": 29, "sim-p11": 9, "sim-p12": 19, "sim-p13": 19, "sim-p14": 11,
    "sim-p15": 21, "sim-p16": 21, "sim-p17": 15, "sim-p18": 23, "sim-p19": 11, "sim-p2": 33,
    "sim-p20": 23, "sim-p21": 12, "sim-p22": 3, "sim-p23": 29, "sim-p24": 27, "sim-p25": 19,
    "sim-p26": 11, "sim-p27": 27, "sim-p28": 5, "sim-p29": 19, "sim-p3": 17, "sim-p4": 21,
    "sim-p5": 17, "sim-p6": 21, "sim-p7": 35, "sim-p8": 7, "sim-p9": 25, "sim-t-casablanca": 5,
    "sim-t-forrest-gump": 13, "sim-t-full-metal-jacket": 7, "sim-t-gladiator": 15,
    "sim-t-good-will-hunting": 9, "sim-t-inception": 4, "sim-t-inglourious-basterds": 7,
    "sim-t-judgment-at-nuremberg": 6,
    "sim-t-pirates-of-the-caribbean-the-curse-of-the-black-pearl": 5, "sim-t-prisoners": 6,
    "sim-t-scarface": 12, "sim-t-the-big-lebowski": 17, "sim-t-the-lion-king": 9,
    "sim-t-the-matrix": 5, "sim-t-the-wolf-of-wall-street": 5, "sim-t-warrior": 11,
}  # fmt: skip


@pytest.fixture(scope="module")
def loaded() -> tuple[dict[str, tuple[SchemaMsg, list[TxMsg]]], GobDumpInfo]:
    warnings: list[str] = []
    info = GobDumpInfo()
    machines = read_gob_dump(FIXTURE, warnings, info)
    assert warnings == []
    return {schema.id: (schema, txs) for schema, txs in machines}, info


@pytest.fixture(scope="module")
def fixture(loaded: tuple) -> dict[str, tuple[SchemaMsg, list[TxMsg]]]:
    return loaded[0]


def test_fixture_info_says_what_the_old_format_cannot_tell(loaded: tuple) -> None:
    assert loaded[1] == GobDumpInfo(
        queued_known=False,
        checks_known=False,
        legacy_log_levels=True,
        machines=107,
        transitions=7605,
    )


def test_fixture_machine_and_transition_counts(fixture: dict) -> None:
    assert len(fixture) == 107
    assert {mid: len(txs) for mid, (_, txs) in fixture.items()} == COUNTS
    assert sum(len(txs) for _, txs in fixture.values()) == 7605


def test_fixture_every_tx_belongs_to_its_machine(fixture: dict) -> None:
    """Old files repeat MachineID in every tx: it must match the schema it is filed under."""
    raw = decode_gob(brotli.decompress(FIXTURE.read_bytes())).values[0][1]
    for exp in raw:
        mid = exp["MsgStruct"]["ID"]
        assert {tx["MachineID"] for tx in exp["MsgTxs"]} == {mid}
        assert [t.id for t in fixture[mid][1]] == [tx["ID"] for tx in exp["MsgTxs"]]


def test_fixture_schema(fixture: dict) -> None:
    schema, _ = fixture["sim-p11"]
    assert schema.states_index[:5] == ("Start", "IsDHT", "Ready", "IdentityReady", "GenIdentity")
    assert len(schema.states_index) == 18 and schema.states_index[-1] == "Exception"
    assert set(schema.states) == set(schema.states_index)
    # the old format has no groups, parent or tags
    assert (schema.groups, schema.groups_order, schema.parent, schema.tags) == ({}, (), "", ())
    assert schema.states["Ready"] == StateDef(auto=True, require=("Start", "Connected"))
    assert schema.states["Connected"] == StateDef(
        require=("Start",), remove=("Connecting", "Disconnecting")
    )
    assert schema.states["Exception"] == StateDef(multi=True)
    assert all(isinstance(s, StateDef) for s in schema.states.values())


def test_fixture_exact_transitions(fixture: dict) -> None:
    schema, txs = fixture["sim-p11"]
    first = txs[0]
    assert first.id == "10e277d2878c5b5bab29c10c8b139fce"
    assert first.mach_id == "sim-p11"
    assert (first.type, first.called, first.accepted, first.is_auto) == (0, (0,), True, False)
    assert first.clocks == (1,) + (0,) * 17
    assert first.queue_len == 1
    assert first.time == 1721654969723209280  # 2024-07-22 15:29:29.723209280 +02:00
    assert first.log == (
        LogEntry(3, "[add] Start"),
        LogEntry(2, "[state] +Start"),
        LogEntry(3, "[auto] GenIdentity Ready Connecting"),
    )

    auto = txs[1]
    assert [schema.states_index[i] for i in auto.called] == ["GenIdentity", "Ready", "Connecting"]
    assert auto.is_auto and auto.accepted and auto.queue_len == 0
    assert auto.clocks == (1, 0, 0, 0, 1) + (0,) * 13
    assert auto.steps[0] == Step(type=32, to_idx=4)
    assert auto.steps[6] == Step(type=1, from_idx=2, to_idx=0, rel_type=2)  # Ready requires Start
    assert auto.steps[8] == Step(type=16, from_idx=2)
    assert auto.steps[14] == Step(type=2, from_idx=4, is_final=True, is_enter=True)  # handler
    assert len(auto.steps) == 15

    removal = txs[6]
    assert removal.id == "80c562800531e225c699e499f09d2306"
    assert (removal.type, removal.called) == (1, (10,))  # remove JoiningTopic
    assert removal.clocks[10] == 2

    _, disc = fixture["ps-18-disc"]
    canceled = disc[11]
    assert canceled.id == "302bbe69350bd3fdf0eca6c6fcccbc90"
    assert (canceled.accepted, canceled.type) == (False, 1)
    assert canceled.clocks == (0, 1, 1, 2, 0, 4, 3, 0, 0, 3, 1)
    assert canceled.steps == (
        Step(type=32, to_idx=9),
        Step(type=8, to_idx=9),
        Step(type=2, from_idx=9),
    )


def test_fixture_totals_match_go(fixture: dict) -> None:
    txs = [tx for _, t in fixture.values() for tx in t]
    assert Counter(tx.type for tx in txs) == {0: 4473, 1: 3132}
    rels = Counter(s.rel_type for tx in txs for s in tx.steps if s.type == 1)
    assert rels == {2: 5666, 1: 230, 3: 123}
    assert all(len(tx.clocks) == len(fixture[tx.mach_id][0].states_index) for tx in txs)
    assert all(tx.called for tx in txs)
    assert not any(tx.is_queued or tx.is_check for tx in txs)


def test_fixture_old_log_levels_are_remapped(fixture: dict) -> None:
    """Old enum: 1 changes, 2 ops. Ours: 1 external, 2 changes, 3 ops."""
    entries = [e for _, t in fixture.values() for tx in t for e in tx.log + tx.pre_log]
    assert Counter(e.level for e in entries) == {2: 7325, 3: 2769}
    assert all(e.level == 2 for e in entries if e.text.startswith("[state"))
    _, txs = fixture["sim-p11"]
    assert txs[4].pre_log[0].level == 2 and txs[4].pre_log[0].text.startswith("[extern] PeerID")


def test_fixture_times_are_in_order_and_in_2024(fixture: dict) -> None:
    for _, txs in fixture.values():
        times = [tx.time for tx in txs]
        assert times == sorted(times)
        assert times[0] >= 1721654969 * 10**9 and times[-1] <= 1721654994 * 10**9


# -- the current Go format, hand-built ---------------------------------------------------------

T0 = 1_760_000_000_123_456_789


def newer_value() -> list[dict]:
    schema = {
        "ID": "worker-1",
        "StatesIndex": ["Start", "Ready", "Exception", "ErrNetwork"],
        "States": {
            "Start": {"Tags": ["entry"]},
            "Ready": {"Auto": True, "Require": ["Start"]},
            "Exception": {"Multi": True},
            "ErrNetwork": {"Require": ["Exception"]},
        },
        "Groups": {"self": [0, 1], "BasicStatesDef": [2, 3]},
        "GroupsOrder": ["self", "BasicStatesDef"],
        "Parent": "root",
        "Tags": ["kind:worker", "rpc-server"],
    }
    txs = [
        {
            "ID": "t1",
            "Clocks": [1, 1, 0, 0],
            "QueueTick": 4,
            "Type": 0,
            "CalledStatesIdxs": [0],
            "Source": {"MachId": "root", "Tx": "abc"},
            "Steps": [
                {"Type": 32, "ToStateIdx": 0, "FromStateIdx": -1},
                # FromStateIdx 0 is a zero value: gob omits it
                {"Type": 1, "FromStateIdx": 1, "ToStateIdx": 0, "RelType": 2},
                {"Type": 2, "FromStateIdx": 0, "ToStateIdx": -1, "IsFinal": True, "IsEnter": True},
            ],
            "LogEntries": [{"Level": 2, "Text": "[state] +Start +Ready"}],
            "PreLogEntries": [{"Level": 1, "Text": "[extern] hello"}],
            "Queue": 2,
            "Time": go_time(T0, 120),
            "Accepted": True,
            "Future": {"x": [1, 2]},
        },
        {
            "ID": "t1-0",
            "Clocks": [1, 1, 0, 0],
            "QueueTick": 5,
            "MutQueueTick": 7,
            "MutQueueToken": 3,
            "Type": 2,
            "CalledStatesIdxs": [3, 2],
            "Time": go_time(T0 + 1000),
            "Accepted": True,
            "IsQueued": True,
            "Args": {"err": "timeout", "id": "x"},
            "StackTrace": "main.go:12",
            "QueueDump": ["add Ready"],
        },
        {
            "ID": "t2",
            "Clocks": [1, 1, 0, 0],
            "Type": 1,
            "CalledStatesIdxs": [0],
            # a sender that still fills names (HEAD prefers them when set), Data -> RelType
            "Steps": [
                {
                    "Type": 1,
                    "FromState": "Ready",
                    "ToState": "Start",
                    "Data": Iface("x.Relation", 2, 2),
                }
            ],
            "IsCheck": True,
            "IsAuto": True,
        },
    ]
    return [{"Version": "v0.19.1", "MsgStruct": schema, "MsgTxs": txs}]


def test_newer_format_loads_with_unknown_fields_ignored() -> None:
    data = GobWriter().encode(export_type(extra=True), newer_value())
    warnings: list[str] = []
    info = GobDumpInfo()
    [(schema, txs)] = import_gob_stream(data, warnings, info)
    assert warnings == []
    assert info == GobDumpInfo(
        queued_known=True, checks_known=True, legacy_log_levels=False, machines=1, transitions=3
    )
    assert schema == SchemaMsg(
        id="worker-1",
        states_index=("Start", "Ready", "Exception", "ErrNetwork"),
        states={
            "Start": StateDef(tags=("entry",)),
            "Ready": StateDef(auto=True, require=("Start",)),
            "Exception": StateDef(multi=True),
            "ErrNetwork": StateDef(require=("Exception",)),
        },
        groups={"self": (0, 1), "BasicStatesDef": (2, 3)},
        groups_order=("self", "BasicStatesDef"),
        parent="root",
        tags=("kind:worker", "rpc-server"),
    )
    t1, q, t2 = txs
    assert t1 == TxMsg(
        mach_id="worker-1",
        id="t1",
        clocks=(1, 1, 0, 0),
        queue_tick=4,
        called=(0,),
        steps=(
            Step(type=32, to_idx=0),
            Step(type=1, from_idx=1, to_idx=0, rel_type=2),
            Step(type=2, from_idx=0, is_final=True, is_enter=True),
        ),
        log=(LogEntry(2, "[state] +Start +Ready"),),
        pre_log=(LogEntry(1, "[extern] hello"),),  # current enum: not remapped
        queue_len=2,
        time=T0,
        accepted=True,
    )
    assert q == TxMsg(
        mach_id="worker-1",
        id="t1-0",
        clocks=(1, 1, 0, 0),
        queue_tick=5,
        mut_queue_tick=7,
        mut_queue_token=3,
        type=2,
        called=(3, 2),
        time=T0 + 1000,
        is_queued=True,
        args={"err": "timeout", "id": "x"},
        stack_trace="main.go:12",
        queue_dump=("add Ready",),
    )
    assert t2.accepted is False  # gob omits false: missing Accepted is a canceled tx
    assert (t2.is_check, t2.is_auto, t2.type, t2.time) == (True, True, 1, 0)
    assert t2.steps == (Step(type=1, from_idx=1, to_idx=0, rel_type=2),)


def test_newer_format_file_through_brotli(tmp_path: Path) -> None:
    path = tmp_path / "worker.gob.br"
    path.write_bytes(brotli.compress(GobWriter().encode(export_type(), newer_value())))
    [(schema, txs)] = read_gob_dump(path)
    assert schema.id == "worker-1" and [t.id for t in txs] == ["t1", "t1-0", "t2"]


def test_unknown_called_state_names_are_dropped_with_a_warning() -> None:
    value = newer_value()
    value[0]["MsgTxs"] = [{"ID": "x", "CalledStates": ["Ready", "Gone"], "Clocks": [1]}]
    warnings: list[str] = []
    [(_, [tx])] = import_gob_stream(GobWriter().encode(export_type(), value), warnings)
    assert tx.called == (1,)
    assert len(warnings) == 1 and "not in their machine's states index" in warnings[0]


def test_duplicate_machines_and_missing_schemas_are_reported() -> None:
    value = newer_value() * 2 + [{"MsgTxs": [{"ID": "orphan"}]}]
    warnings: list[str] = []
    machines = import_gob_stream(GobWriter().encode(export_type(), value), warnings)
    assert [s.id for s, _ in machines] == ["worker-1", "worker-1"]
    assert warnings == [
        "machine 'worker-1' appears 2 times in the dump",
        "machine #3 has no schema or no ID; skipped",
    ]


# -- errors ------------------------------------------------------------------------------------


def test_wrong_field_type_names_the_type_definition() -> None:
    t = export_type(extra=False)
    tx = t.elem.fields[1][1].elem
    idx = [n for n, _ in tx.fields].index("Clocks")
    tx.fields[idx] = ("Clocks", T("slice", "Names", elem=STRING))
    value = newer_value()
    value[0]["MsgTxs"] = [{"ID": "x", "Clocks": ["a"]}]
    w = GobWriter()
    data = w.encode(t, value)
    with pytest.raises(GobError) as info:
        import_gob_stream(data)
    err = info.value
    assert "MsgTxs[].Clocks[] has type string, expected int" in str(err)
    clocks_t = tx.fields[idx][1]
    assert err.offset == decode_gob(data).types[clocks_t.id].offset
    assert data[err.offset :].startswith(sint(-clocks_t.id))  # the definition of Names
    assert err.gob_type == f"Names (slice #{clocks_t.id})"


def test_not_an_export() -> None:
    data = GobWriter().encode(
        T("slice", "", elem=T("struct", "", [("Name", STRING)])), [{"Name": "a"}]
    )
    with pytest.raises(
        GobError, match="not an am-dbg export: the exported value\\[\\] has no field"
    ):
        import_gob_stream(data)
    with pytest.raises(GobError, match="expected slice"):
        import_gob_stream(GobWriter().encode(STRING, "hello"))
    with pytest.raises(GobError, match="no value"):
        import_gob_stream(b"")


def test_truncated_brotli_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.gob.br"
    raw = FIXTURE.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(GobError, match="brotli: the compressed stream is truncated after"):
        read_gob_dump(path)


def test_decompression_is_bounded() -> None:
    bomb = brotli.compress(b"\x00" * 5_000_000)
    assert len(bomb) < 100
    assert len(decompress_dump(bomb)) == 5_000_000
    with pytest.raises(GobError, match="decompresses to more than 1,000,000 bytes"):
        decompress_dump(bomb, limit=1_000_000)


def test_missing_file_is_a_recording_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="cannot read"):
        read_gob_dump(tmp_path / "nope.gob.br")


def _one_tx(export: object, tx: dict) -> TxMsg:
    schema = {"ID": "m", "StatesIndex": ["A", "B"], "States": {"A": {}, "B": {}}}
    value = [{"MsgStruct": schema, "MsgTxs": [tx]}]
    [(_, [got])] = import_gob_stream(GobWriter().encode(export, value))
    return got


def test_old_format_without_state_lines_still_remaps_levels() -> None:
    """No `[state]` line to tell by: the old field set (no IsQueued) decides."""
    tx = {
        "ID": "x",
        "Clocks": [1, 0],
        "CalledStates": ["B", "A"],
        "LogEntries": [{"Level": 2, "Text": "[add] A"}, {"Level": 4, "Text": "[handler] AState"}],
        "Steps": [{"Type": 1, "FromState": "A", "ToState": "B", "Data": Iface("m.Relation", 2, 3)}],
        "Accepted": True,
    }
    got = _one_tx(old_export_type(), tx)
    assert got.called == (1, 0)
    assert got.log == (LogEntry(3, "[add] A"), LogEntry(5, "[handler] AState"))
    assert got.steps == (Step(type=1, from_idx=0, to_idx=1, rel_type=3),)
    assert not got.is_queued and got.queue_tick == 0


def test_new_format_without_state_lines_keeps_levels() -> None:
    tx = {"ID": "x", "Clocks": [1, 0], "LogEntries": [{"Level": 1, "Text": "[extern] hi"}]}
    assert _one_tx(export_type(), tx).log == (LogEntry(1, "[extern] hi"),)
