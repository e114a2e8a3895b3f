"""A damaged Go dump keeps what decompressed before the damage, as much as a cut there keeps
(docs/protocol.md "Reading recordings")."""

from __future__ import annotations

from pathlib import Path

import brotli
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from am_dbg.recordings import load
from am_dbg.recordings.errors import GobError
from am_dbg.recordings.gob_import import decompress_dump, dump_limit

FIXTURE = Path(__file__).parents[2] / "data" / "am-dbg-sim.gob.br"
RAW = FIXTURE.read_bytes()


def _summary(path: Path) -> list[tuple[str, int]]:
    return [(s.id, len(txs)) for s, txs in load(path).machines]


FULL = _summary(FIXTURE)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(len(RAW) // 20, len(RAW) - 1), st.integers(1, 255))
def test_a_damaged_byte_keeps_what_a_cut_there_keeps(tmp_path: Path, at: int, mask: int) -> None:
    cut = tmp_path / "cut.gob.br"
    cut.write_bytes(RAW[:at])
    kept_by_cut = _summary(cut)
    assert kept_by_cut, "a cut this far in keeps machines"
    bad = bytearray(RAW)
    bad[at] ^= mask
    flipped = tmp_path / "flip.gob.br"
    flipped.write_bytes(bytes(bad))
    got = load(flipped)
    machines = [(s.id, len(txs)) for s, txs in got.machines]
    # brotli has no checksum: damage may decode to other bytes, and only gob may notice; every
    # machine that was complete before the damaged byte is kept as it was
    assert machines[: len(kept_by_cut)] == kept_by_cut
    if len(machines) < len(FULL):
        assert got.warnings, "a loss is reported"


def test_the_damage_report_names_the_offset(tmp_path: Path) -> None:
    bad = bytearray(RAW)
    bad[len(RAW) // 2] ^= 0x40
    path = tmp_path / "half.gob.br"
    path.write_bytes(bytes(bad))
    got = load(path)
    assert 0 < len(got.machines) < len(FULL)
    assert "brotli: the compressed stream is damaged near byte" in got.warnings[0]
    assert "kept what came before" in got.warnings[0]


def test_a_bomb_is_refused_at_its_ratio_limit() -> None:
    bomb = brotli.compress(b"\x00" * (80 << 20))
    assert len(bomb) < 4096
    assert dump_limit(len(bomb)) == 64 << 20
    with pytest.raises(GobError, match="decompresses to more than 67,108,864 bytes; refused"):
        decompress_dump(bomb)
    assert dump_limit(len(RAW)) >= len(brotli.decompress(RAW))  # the fixture fits
