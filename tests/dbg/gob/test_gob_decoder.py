"""The generic gob decoder: it follows the type definitions in the stream, whatever they describe."""

from __future__ import annotations

import math
from pathlib import Path

import brotli
import pytest
from gob_writer import (
    BOOL,
    BYTES,
    COMPLEX,
    FLOAT,
    INT,
    INTERFACE,
    STRING,
    UINT,
    GobWriter,
    Iface,
    T,
    message,
    sint,
    string,
    uint,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from am_dbg.recordings.errors import GobError, RecordingError
from am_dbg.recordings.gob import GobInterface, decode_gob

FIXTURE = Path(__file__).parents[2] / "data" / "am-dbg-sim.gob.br"


def one(t: object, v: object) -> object:
    stream = decode_gob(GobWriter().encode(t, v))
    assert len(stream.values) == 1
    return stream.values[0][1]


def test_gob_error_is_a_recording_error() -> None:
    assert issubclass(GobError, RecordingError)


@pytest.mark.parametrize(
    ("tid", "value"),
    [
        (INT, 0),
        (INT, -1),
        (INT, 63),
        (INT, -(2**63)),
        (INT, 2**63 - 1),
        (UINT, 127),
        (UINT, 128),
        (UINT, 2**64 - 1),
        (BOOL, True),
        (STRING, "żółw ✓"),
        (BYTES, b"\x00\xff"),
        (FLOAT, -2.5),
        (COMPLEX, complex(1.5, -3.0)),
    ],
)
def test_top_level_builtin_values_decode(tid: int, value: object) -> None:
    assert one(tid, value) == value


def test_float_special_values() -> None:
    assert math.isinf(one(FLOAT, math.inf))  # type: ignore[arg-type]


def test_struct_omitted_fields_are_absent_and_unknown_deltas_follow_the_typedef() -> None:
    t = T("struct", "P", [("A", INT), ("B", STRING), ("C", BOOL), ("D", UINT)])
    assert one(t, {"A": 0, "B": "x", "C": False, "D": 300}) == {"B": "x", "D": 300}


def test_nested_slices_maps_arrays() -> None:
    inner = T("struct", "", [("N", STRING), ("V", T("slice", "", elem=UINT))])
    t = T(
        "struct",
        "Outer",
        [
            ("Items", T("slice", "", elem=inner)),
            ("ByName", T("map", "", key=STRING, elem=T("slice", "S", elem=STRING))),
            ("Fixed", T("array", "", elem=INT, length=3)),
        ],
    )
    v = {
        "Items": [{"N": "a", "V": [1, 200, 3]}, {"N": "b"}],
        "ByName": {"x": ["1", "2"], "y": []},
        "Fixed": [-1, 0, 1],
    }
    got = one(t, v)
    assert got == {
        "Items": [{"N": "a", "V": [1, 200, 3]}, {"N": "b"}],
        "ByName": {"x": ["1", "2"], "y": []},
        "Fixed": [-1, 0, 1],
    }


def test_recursive_type() -> None:
    node = T("struct", "Node", [("Name", STRING)])
    node.fields.append(("Kids", T("slice", "", elem=node)))
    v = {"Name": "root", "Kids": [{"Name": "a", "Kids": [{"Name": "b"}]}, {"Name": "c"}]}
    assert one(node, v) == v


def test_interface_values_builtin_and_nil() -> None:
    t = T("struct", "Step", [("Type", INT), ("Data", INTERFACE)])
    got = one(t, {"Type": 1, "Data": Iface("pkg/machine.Relation", INT, 2)})
    assert got == {"Type": 1, "Data": GobInterface("pkg/machine.Relation", 2)}
    got = one(T("slice", "", elem=INTERFACE), [None, Iface("string", STRING, "FooState")])
    assert got == [None, GobInterface("string", "FooState")]


def test_interface_with_a_type_defined_inside_the_value() -> None:
    """Go defines an interface's concrete user type in the middle of the value (decodeTypeSequence)."""
    w = GobWriter()
    point = T("struct", "Point", [("X", INT), ("Y", INT)], id=70)
    outer = T("struct", "Box", [("Label", STRING), ("Any", INTERFACE)])
    w.assign(outer)
    typedefs = w.typedefs(outer)
    concrete = w.value(point, {"X": 3, "Y": -4})
    body = (
        uint(1)
        + string("box")
        + uint(1)
        + string("main.Point")
        + sint(-70)
        + w.wire_type(point)
        + uint(99)  # the count of the delimited value that follows a typedef: skipped
        + sint(70)
        + uint(len(concrete))
        + concrete
        + b"\x00"
    )
    stream = decode_gob(typedefs + message(sint(outer.id) + body))
    assert stream.values[0][1] == {
        "Label": "box",
        "Any": GobInterface("main.Point", {"X": 3, "Y": -4}),
    }
    assert stream.types[70].name == "Point"


def test_interface_type_definition_ending_a_message_continues_in_the_next() -> None:
    """Go's decoder also accepts the value resuming in a new message after such a definition."""
    w = GobWriter()
    point = T("struct", "Point", [("X", INT)], id=70)
    outer = T("struct", "Box", [("Any", INTERFACE), ("After", STRING)])
    w.assign(outer)
    concrete = w.value(point, {"X": 7})
    part1 = sint(outer.id) + uint(1) + string("main.Point") + sint(-70) + w.wire_type(point)
    part2 = sint(70) + uint(len(concrete)) + concrete + uint(1) + string("tail") + b"\x00"
    stream = decode_gob(w.typedefs(outer) + message(part1) + message(part2))
    assert stream.values[0][1] == {"Any": GobInterface("main.Point", {"X": 7}), "After": "tail"}


def test_gob_encoder_payload_is_raw_bytes() -> None:
    t = T("struct", "", [("Time", T("gobencoder"))])
    assert one(t, {"Time": b"\x01abc"}) == {"Time": b"\x01abc"}


def test_several_values_in_one_stream() -> None:
    w = GobWriter()
    t = T("struct", "X", [("A", INT)])
    data = w.encode(t, {"A": 1}) + w.encode(t, {"A": 2}) + w.encode(STRING, "end")
    stream = decode_gob(data)
    assert [v for _, v, _ in stream.values] == [{"A": 1}, {"A": 2}, "end"]


def test_fixture_decodes_and_reencodes_byte_for_byte() -> None:
    """Nothing is lost: the test encoder rebuilds the Go stream exactly from what was decoded."""
    data = brotli.decompress(FIXTURE.read_bytes())
    stream = decode_gob(data)
    assert len(stream.values) == 1
    tid, value, offset = stream.values[0]
    assert (tid, offset) == (79, 699)
    assert stream.types[66].name == "DbgMsgStruct"
    assert stream.types[77].kind == "gobencoder" and stream.types[77].common_id == 80

    objs: dict[int, T] = {}

    def conv(tid: int) -> object:
        if tid < 65:
            return tid
        if tid not in objs:
            g = stream.types[tid]
            t = T(g.kind, g.name, id=tid, length=g.length, common_id=g.common_id)
            objs[tid] = t
            t.fields = [(n, conv(f)) for n, f in g.fields]
            if g.kind in ("slice", "array", "map"):
                t.elem = conv(g.elem)
            if g.kind == "map":
                t.key = conv(g.key)
        return objs[tid]

    def back(v: object) -> object:
        if isinstance(v, GobInterface):
            return Iface(v.name, INT if isinstance(v.value, int) else STRING, v.value)
        if isinstance(v, dict):
            return {k: back(x) for k, x in v.items()}
        if isinstance(v, list):
            return [back(x) for x in v]
        return v

    assert GobWriter().encode(conv(tid), back(value)) == data


# -- errors: offset and type in the message ---------------------------------------------------


def _err(data: bytes) -> GobError:
    with pytest.raises(GobError) as info:
        decode_gob(data)
    return info.value


def test_truncated_message_names_offset() -> None:
    data = GobWriter().encode(T("struct", "Msg", [("Text", STRING)]), {"Text": "hello"})
    err = _err(data[:-3])
    assert "truncated" in str(err)
    assert err.offset >= 0 and "byte" in str(err)


def test_field_number_out_of_range_names_type_and_offset() -> None:
    w = GobWriter()
    t = T("struct", "Msg", [("A", INT)])
    w.assign(t)
    data = w.typedefs(t) + message(sint(t.id) + uint(5) + uint(1) + b"\x00")
    err = _err(data)
    assert "field number 4 out of range" in str(err)
    assert err.gob_type.startswith("Msg")
    assert err.offset == len(data) - 2


def test_error_inside_a_nested_field_names_the_path() -> None:
    w = GobWriter()
    inner = T("struct", "Inner", [("S", STRING)])
    t = T("struct", "Outer", [("In", inner)])
    w.assign(t)
    data = w.typedefs(t) + message(sint(t.id) + uint(1) + uint(1) + uint(50) + b"abc")
    err = _err(data)
    assert err.gob_type.startswith("Inner")
    assert "string of 50 bytes" in str(err)
    assert "in field In.S of a Outer" in str(err)


def test_undefined_type_id() -> None:
    err = _err(message(sint(70) + b"\x00\x00"))
    assert "never defined" in str(err)
    assert err.offset == 3  # length byte, then id 70 takes 2 bytes: the value starts at 3


def test_duplicate_and_reserved_type_definitions() -> None:
    w = GobWriter()
    t = T("slice", "", elem=INT)
    w.assign(t)
    td = w.typedefs(t)
    assert "duplicate" in str(_err(td + td))
    reserved = message(sint(-6) + w.wire_type(t))
    assert "reserved" in str(_err(reserved))


def test_huge_counts_are_refused_before_allocating() -> None:
    w = GobWriter()
    t = T("slice", "", elem=INT)
    w.assign(t)
    payload = sint(t.id) + b"\x00" + uint(2**40) + b"\x02"  # 2**40 elements, 1 byte of data
    err = _err(w.typedefs(t) + message(payload))
    assert "cannot fit" in str(err)


def test_value_shorter_than_its_message() -> None:
    padded = message(sint(INT) + b"\x00" + sint(5) + b"\x00\x00")
    assert "its message ends" in str(_err(padded))


def test_garbage_is_a_gob_error() -> None:
    assert isinstance(_err(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), GobError)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "ID": st.text(max_size=12),
                "N": st.integers(-(2**63), 2**63 - 1),
                "U": st.lists(st.integers(0, 2**64 - 1), max_size=6),
                "Ok": st.booleans(),
                "M": st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3),
            }
        ),
        max_size=8,
    )
)
def test_roundtrip_property(items: list[dict[str, object]]) -> None:
    t = T(
        "slice",
        "",
        elem=T(
            "struct",
            "Item",
            [
                ("ID", STRING),
                ("N", INT),
                ("U", T("slice", "", elem=UINT)),
                ("Ok", BOOL),
                ("M", T("map", "", key=STRING, elem=STRING)),
            ],
        ),
    )
    got = one(t, items)
    want = [{k: v for k, v in it.items() if v} for it in items]
    assert got == want
