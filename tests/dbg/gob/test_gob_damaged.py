"""Truncated or mutated gob streams give a `GobError` (a `RecordingError`), never a hang.

A hang is caught by the suite's per-test timeout; the cost of damaged input against intact input
is measured in bench/gob.py.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import brotli
from am_go_types import export_type
from gob_writer import GobWriter, go_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from am_dbg.recordings.errors import GobError, RecordingError
from am_dbg.recordings.gob_import import import_gob_stream, read_gob_dump

FIXTURE = Path(__file__).parents[2] / "data" / "am-dbg-sim.gob.br"
MAX_ALLOC = 16 << 20  # bytes: far above what these small streams need, far below a huge length


def _stream() -> bytes:
    steps = [{"Type": 1, "FromStateIdx": 1, "ToStateIdx": 0, "RelType": 2}]
    txs = [
        {
            "ID": f"t{i}",
            "Clocks": [1, i],
            "CalledStatesIdxs": [1],
            "Steps": steps,
            "LogEntries": [{"Level": 2, "Text": f"[state] +B {i}"}],
            "Args": {"k": "v"},
            "Time": go_time(1_700_000_000 * 10**9 + i),
            "Accepted": True,
        }
        for i in range(3)
    ]
    schema = {"ID": "m", "StatesIndex": ["A", "B"], "States": {"A": {}, "B": {"Require": ["A"]}}}
    return GobWriter().encode(export_type(), [{"MsgStruct": schema, "MsgTxs": txs}])


STREAM = _stream()


def _outcome(data: bytes) -> str:
    """Import `data`: 'ok' or 'error', anything else fails the test."""
    try:
        machines = import_gob_stream(data)
    except GobError as err:
        assert str(err).startswith("gob: ")
        assert err.offset >= 0
        result = "error"
    else:
        assert isinstance(machines, list)
        result = "ok"
    return result


def test_the_intact_stream_imports() -> None:
    assert _outcome(STREAM) == "ok"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(STREAM) - 1))
def test_every_truncation_is_an_error(cut: int) -> None:
    assert _outcome(STREAM[:cut]) == "error"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(STREAM) - 1),
            st.sampled_from(["set", "insert", "delete"]),
            st.integers(0, 255),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutations_give_a_value_or_a_gob_error(edits: list[tuple[int, str, int]]) -> None:
    data = bytearray(STREAM)
    for pos, op, byte in edits:
        pos = min(pos, len(data) - 1)
        if op == "set":
            data[pos] = byte
        elif op == "insert":
            data.insert(pos, byte)
        elif len(data) > 1:
            del data[pos]
    _outcome(bytes(data))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes(data: bytes) -> None:
    _outcome(data)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 20), st.integers(0, 255))
def test_huge_lengths_are_refused_without_allocating(n_ff: int, tail: int) -> None:
    """0xF8 = 'eight bytes follow': the largest uints gob can say, as counts and lengths."""
    head = STREAM[: len(STREAM) // 2]
    tracemalloc.start()
    try:
        _outcome(head + b"\xf8" + b"\xff" * n_ff + bytes([tail]) + STREAM[len(head) :])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_ALLOC, f"{peak:,} bytes allocated for a stream of {len(STREAM):,}"


_FIXTURE_GOB: list[bytes] = []


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 700), st.integers(0, 255))
def test_fixture_type_definitions_mutated(pos: int, byte: int) -> None:
    """The fixture's 15 type definitions are its first 699 bytes; damage there, decode the rest."""
    if not _FIXTURE_GOB:
        _FIXTURE_GOB.append(brotli.decompress(FIXTURE.read_bytes()))
    data = bytearray(_FIXTURE_GOB[0])
    data[pos] = byte
    try:
        import_gob_stream(bytes(data))
    except GobError:
        pass


def test_damaged_files_are_recording_errors(tmp_path: Path) -> None:
    raw = FIXTURE.read_bytes()
    cases = {
        "empty.gob.br": b"",
        "cut-brotli.gob.br": raw[:1000],
        "not-brotli.gob.br": b"hello world, not brotli at all",
        "cut-gob.gob.br": brotli.compress(brotli.decompress(raw)[:5000]),
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        try:
            read_gob_dump(path)
        except RecordingError as err:
            assert name in str(err)
        else:
            raise AssertionError(f"{name} was accepted")


# -- salvage: keep every machine that was complete before the damage --------------------------


def test_salvage_a_truncated_fixture_keeps_the_complete_machines(tmp_path: Path) -> None:
    full = read_gob_dump(FIXTURE)
    raw = FIXTURE.read_bytes()
    path = tmp_path / "half.gob.br"
    path.write_bytes(raw[: len(raw) // 2])
    warnings: list[str] = []
    kept = read_gob_dump(path, warnings, salvage=True)
    assert 0 < len(kept) < 107
    assert kept == full[: len(kept)]  # intact machines come back exactly
    assert warnings[0].startswith("brotli: the compressed stream is truncated after 127,618 bytes")
    assert f"kept the {len(kept)} complete machine(s) of 107, lost {107 - len(kept)}" in warnings[1]


def test_salvage_with_nothing_intact_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "stub.gob.br"
    path.write_bytes(FIXTURE.read_bytes()[:300])
    try:
        read_gob_dump(path, [], salvage=True)
    except GobError as err:
        assert "nothing was imported" in str(err)
    else:
        raise AssertionError("accepted")


def _two_machines() -> bytes:
    schema = {"StatesIndex": ["A"], "States": {"A": {}}}
    value = [
        {"MsgStruct": {**schema, "ID": f"m{i}"}, "MsgTxs": [{"ID": f"t{i}", "Clocks": [i]}]}
        for i in range(2)
    ]
    return GobWriter().encode(export_type(), value)


TWO = _two_machines()
TWO_FULL = import_gob_stream(TWO)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(TWO) - 1))
def test_salvaged_truncations_keep_an_exact_prefix(cut: int) -> None:
    warnings: list[str] = []
    try:
        kept = import_gob_stream(TWO[:cut], warnings, salvage=True)
    except GobError:
        return
    assert kept == TWO_FULL[: len(kept)]
    assert any("truncated" in w for w in warnings)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(STREAM) - 1), st.integers(0, 255))
def test_salvage_of_mutated_streams_never_raises_anything_else(pos: int, byte: int) -> None:
    data = bytearray(STREAM)
    data[pos] = byte
    try:
        import_gob_stream(bytes(data), [], salvage=True)
    except GobError:
        pass
