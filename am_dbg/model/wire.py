"""Typed decode of tx messages at ingest: the keys the indexes read, checked while decoding.

`msgpack.unpackb` builds every object of a message (log lines, args, step lists) and the model
then checks the types it needs in Python: together several times the cost of the decode. A
msgspec decoder typed with `TxCore` reads the same bytes once, in C, and refuses a wrong type as
it goes. Every key of the protocol is typed (the display keys too: log lines, args, ...), and an
unknown key sends the message the dict path: so a message the typed path accepts is nested at
most 3 deep, and anything else is depth-checked there (`derive.unpack_tx`). A value nested deep
enough to exhaust a reader's recursion can never be stored (docs/protocol.md, "Limits").

`TxCore` is at least as strict as the dict path (`derive._columns`): whatever it accepts, the dict
path accepts with the same values, so the two give identical results; anything it refuses (a
null, a float clock, a step of another shape) goes the dict path, which says why or accepts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import msgspec

__all__ = ["TxCore", "as_map", "decode_many", "decode_one"]

# a step's from / to: a state index, or -1 for none
_StateIdx = Annotated[int, msgspec.Meta(ge=-1)]


class TxCore(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """The keys of a tx wire map (`am_rpc.dbg.protocol.TxMsg.to_wire`) the indexes read.

    Not tracked by the cyclic GC (it holds no cycles), so thousands alive cost no collections.
    """

    m: str
    id: str
    c: list[int]
    s: list[int] = []
    steps: list[tuple[int, _StateIdx, _StateIdx, int, int]] = []
    t: int = 0
    qt: int = 0
    mqt: int = 0
    mqk: int = 0
    acc: bool = True
    auto: bool = False
    chk: bool = False
    qd: bool = False
    time: int | None = None
    st: int | None = None  # the sender's own time (docs/protocol.md "Sender time")
    # display keys: typed only so that nothing deeper than the protocol's shapes passes
    ql: int = 0
    log: list[tuple[int, str]] = []
    pre: list[tuple[int, str]] = []
    args: dict[str, str] = {}
    qdump: list[str] = []
    trace: str = ""


_DECODE = msgspec.msgpack.Decoder(TxCore).decode


def decode_many(raws: Sequence[bytes]) -> list[TxCore] | None:
    """Every packed message of `raws` as a `TxCore`, or None if any is not one (use dicts)."""
    try:
        return [*map(_DECODE, raws)]
    except (msgspec.MsgspecError, RecursionError):
        return None


def decode_one(raw: bytes) -> TxCore | None:
    """One packed message as a `TxCore`, or None if it is not one (use the dict path)."""
    try:
        return _DECODE(raw)
    except (msgspec.MsgspecError, RecursionError):
        return None


def as_map(tx: TxCore) -> dict[str, Any]:
    """The wire map of the keys `tx` holds (its defaults filled in), for `derive.derive`."""
    return msgspec.structs.asdict(tx)
