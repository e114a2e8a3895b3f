"""A read-only sequence of transition messages kept packed (msgpack bytes + receive time).

Recordings hand their transitions over in this form: `Session.load` stores the bytes as they are
(no decode / re-encode round trip), while anyone iterating still gets `TxMsg` objects.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import overload

from am_dbg.model.derive import check_tx, decode, unpack_tx
from am_dbg.model.wire import decode_one
from am_rpc.dbg.protocol import TxMsg

__all__ = ["PackedTxs"]


class PackedTxs(Sequence[TxMsg]):
    """Transitions of one machine as (packed map, receive time ns) pairs, decoded on access."""

    __slots__ = ("_raw", "_times", "n_queued")

    def __init__(self) -> None:
        self._raw: list[bytes] = []
        self._times = array("q")
        self.n_queued = 0  # queued-mutation messages among them

    def append_checked(self, raw: bytes, queued: bool, time_ns: int) -> None:
        """Add a message that passed `check_tx` (or decoded as a `TxCore`); `queued`: its "qd"."""
        self._raw.append(raw)
        self._times.append(time_ns)
        if queued:
            self.n_queued += 1

    def append(self, raw: bytes, time_ns: int) -> None:
        """Add a packed message; raises `MessageError` if the model could not store it."""
        tx = decode_one(raw)
        if tx is not None:
            self.append_checked(raw, tx.qd, time_ns)
            return
        d = unpack_tx(raw)
        check_tx(d)
        self.append_checked(raw, d.get("qd") is True, time_ns)

    def packed(self) -> Iterator[tuple[bytes, int]]:
        return zip(self._raw, self._times, strict=True)

    def __len__(self) -> int:
        return len(self._raw)

    @overload
    def __getitem__(self, i: int) -> TxMsg: ...
    @overload
    def __getitem__(self, i: slice) -> list[TxMsg]: ...
    def __getitem__(self, i: int | slice) -> TxMsg | list[TxMsg]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        d = unpack_tx(self._raw[i])
        d["time"] = self._times[i]
        return decode(d)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<PackedTxs {len(self)} txs>"
