"""Go am-dbg export types in the CURRENT Go format (spec/debugger.md §2), for the test gob writer.

`extra=True` adds fields no am-dbg version has, which the importer must ignore.
"""

from __future__ import annotations

from gob_writer import BOOL, INT, INTERFACE, STRING, UINT, T


def export_type(extra: bool = True) -> T:
    strs = T("slice", "S", elem=STRING)
    state = T(
        "struct",
        "",
        [
            ("Auto", BOOL),
            ("Multi", BOOL),
            ("Require", strs),
            ("Add", strs),
            ("Remove", strs),
            ("After", strs),
            ("Tags", strs),
        ],
    )
    schema = T(
        "struct",
        "DbgMsgStruct",
        [
            ("ID", STRING),
            ("StatesIndex", strs),
            ("States", T("map", "Schema", key=STRING, elem=state)),
            ("Groups", T("map", "", key=STRING, elem=T("slice", "", elem=INT))),
            ("GroupsOrder", T("slice", "", elem=STRING)),
            ("Parent", STRING),
            ("Tags", T("slice", "", elem=STRING)),
        ],
    )
    step = T(
        "struct",
        "",
        [
            ("Type", INT),
            ("FromState", STRING),
            ("ToState", STRING),
            ("FromStateIdx", INT),
            ("ToStateIdx", INT),
            ("Data", INTERFACE),
            ("RelType", INT),
            ("IsFinal", BOOL),
            ("IsSelf", BOOL),
            ("IsEnter", BOOL),
        ],
    )
    entry = T("struct", "", [("Level", INT), ("Text", STRING)])
    entries = T("slice", "[]*machine.LogEntry", elem=entry)
    tx_fields: list[tuple[str, object]] = [
        ("MachineID", STRING),
        ("ID", STRING),
        ("Clocks", T("slice", "Time", elem=UINT)),
        ("QueueTick", UINT),
        ("MutQueueToken", UINT),
        ("MutQueueTick", UINT),
        ("Type", INT),
        ("CalledStates", T("slice", "", elem=STRING)),
        ("CalledStatesIdxs", T("slice", "", elem=INT)),
        ("Steps", T("slice", "", elem=step)),
        ("LogEntries", entries),
        ("PreLogEntries", entries),
        ("Queue", INT),
        ("Time", T("gobencoder")),
        ("IsAuto", BOOL),
        ("Accepted", BOOL),
        ("IsCheck", BOOL),
        ("IsQueued", BOOL),
        ("Args", T("map", "", key=STRING, elem=STRING)),
        ("QueueDump", T("slice", "", elem=STRING)),
        ("StackTrace", STRING),
    ]
    if extra:
        tx_fields.insert(
            3, ("Source", T("struct", "MutSource", [("MachId", STRING), ("Tx", STRING)]))
        )
        tx_fields.append(("Future", T("map", "", key=STRING, elem=T("slice", "", elem=UINT))))
    tx = T("struct", "", tx_fields)
    exp_fields: list[tuple[str, object]] = [
        ("MsgStruct", schema),
        ("MsgTxs", T("slice", "[]*dbg.DbgMsgTx", elem=tx)),
    ]
    if extra:
        exp_fields.insert(0, ("Version", STRING))
    return T("slice", "", elem=T("struct", "", exp_fields))


def old_export_type() -> T:
    """The 2024-07 `telemetry` format of the shipped fixture (spec/go-dumps.md, in wire order)."""
    strs = T("slice", "S", elem=STRING)
    state = T(
        "struct",
        "",
        [(name, BOOL) for name in ("Auto", "Multi")]
        + [(name, strs) for name in ("Require", "Add", "Remove", "After")],
    )
    schema = T(
        "struct",
        "DbgMsgStruct",
        [
            ("ID", STRING),
            ("StatesIndex", strs),
            ("States", T("map", "map[string]machine.State", key=STRING, elem=state)),
        ],
    )
    step = T(
        "struct",
        "",
        [
            ("Type", INT),
            ("FromState", STRING),
            ("ToState", STRING),
            ("Data", INTERFACE),
            ("IsFinal", BOOL),
            ("IsSelf", BOOL),
            ("IsEnter", BOOL),
        ],
    )
    entries = T(
        "slice", "[]*machine.LogEntry", elem=T("struct", "", [("Level", INT), ("Text", STRING)])
    )
    tx = T(
        "struct",
        "",
        [
            ("MachineID", STRING),
            ("ID", STRING),
            ("Clocks", T("slice", "T", elem=UINT)),
            ("Accepted", BOOL),
            ("Type", INT),
            ("CalledStates", T("slice", "[]string", elem=STRING)),
            ("Steps", T("slice", "[]*machine.Step", elem=step)),
            ("LogEntries", entries),
            ("PreLogEntries", entries),
            ("IsAuto", BOOL),
            ("Queue", INT),
            ("Time", T("gobencoder")),
        ],
    )
    exp = T(
        "struct",
        "",
        [("MsgStruct", schema), ("MsgTxs", T("slice", "[]*telemetry.DbgMsgTx", elem=tx))],
    )
    return T("slice", "", elem=exp)
