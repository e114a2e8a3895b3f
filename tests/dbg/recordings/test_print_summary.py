"""`am-dbg -i FILE --print-summary`: the exact JSON of design.md §4, exit codes, damage warnings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from am_dbg.cli import main
from am_dbg.model.session import Session
from am_dbg.recordings import RecordingWriter
from am_rpc.dbg.protocol import SchemaMsg, StateDef, TxMsg


def _schema(
    mid: str, names: tuple[str, ...], parent: str = "", tags: tuple[str, ...] = ()
) -> SchemaMsg:
    return SchemaMsg(
        id=mid,
        states_index=names,
        states={n: StateDef() for n in names},
        parent=parent,
        tags=tags,
        token=f"t-{mid}",
    )


def _record(path: Path) -> None:
    with RecordingWriter(path, background=False) as w:
        s = Session(recorder=w)
        s.on_schema(_schema("worker-1", ("Start", "Ready", "Exception"), parent="boss"), "c1", 1)
        s.on_schema(_schema("boss", ("Start",), tags=("svc:x", "y")), "c2", 1)
        s.on_txs(
            [
                ("c1", TxMsg(mach_id="worker-1", id="a", clocks=(1, 0, 0))),
                ("c1", TxMsg(mach_id="worker-1", id="a-0", clocks=(1, 0, 0), is_queued=True)),
                ("c1", TxMsg(mach_id="worker-1", id="b", clocks=(1, 1, 0), accepted=False)),
                ("c2", TxMsg(mach_id="boss", id="c", clocks=(1,))),
                ("c1", TxMsg(mach_id="worker-1", id="c", clocks=(1, 1, 0))),
            ],
            now_ns=2,
        )
        s.on_disconnect("c1", 3)


def test_summary_json_is_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.amdbg"
    _record(path)
    assert main(["-i", str(path), "--print-summary"]) == 0
    out, err = capsys.readouterr()
    expected = {
        "file": str(path),
        "format": "amdbg/1",
        "machines": [
            {
                "id": "boss",
                "parent_id": None,
                "tags": ["svc:x", "y"],
                "states": ["Start"],
                "transitions": 1,
                "queued": 0,
                "disconnected": False,
            },
            {
                "id": "worker-1",
                "parent_id": "boss",
                "tags": [],
                "states": ["Start", "Ready", "Exception"],
                "transitions": 3,
                "queued": 1,
                "disconnected": True,
            },
        ],
    }
    assert out == json.dumps(expected) + "\n"
    assert err == ""


def test_damaged_recording_prints_what_was_read_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.amdbg"
    _record(path)
    data = path.read_bytes()
    cut = tmp_path / "cut.amdbg"
    cut.write_bytes(data[:-3])
    assert main(["-i", str(cut), "--print-summary"]) == 0
    out, err = capsys.readouterr()
    got = json.loads(out)
    assert got["file"] == str(cut) and got["machines"] == []  # the one data chunk is cut
    assert "warning: recording" in err and "is truncated after 0 transitions" in err


def test_unreadable_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-i", str(tmp_path / "none.amdbg"), "--print-summary"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "cannot read" in err
    bad = tmp_path / "bad.amdbg"
    bad.write_bytes(b"AMDBG\0\x00\x07")
    assert main(["-i", str(bad), "--print-summary"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "format version 7" in err


def test_go_dump_summary(capsys: pytest.CaptureFixture[str]) -> None:
    fixture = Path(__file__).parents[2] / "data" / "am-dbg-sim.gob.br"
    assert main(["-i", str(fixture), "--print-summary"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["format"] == "gob/go-am-dbg"
    ids = [m["id"] for m in got["machines"]]
    assert ids == sorted(ids) and ids
    assert all(m["disconnected"] and m["transitions"] > 0 for m in got["machines"])
