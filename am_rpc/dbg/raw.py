"""A raw telemetry sender for machines that are not am_core machines (docs/adapters.md).

``RawSender`` speaks the same protocol as `DbgTracer` (docs/protocol.md) on the same link and
outbox, but takes its schema and transitions as plain data: state names (with optional
relations, as `StateDef`), then one :meth:`RawSender.transition` call per transition with the
called states, the active states after it, whether it was accepted and its log lines. It keeps
the clocks itself (a state's tick grows on every activation and deactivation, odd = active), so
am-dbg shows such a machine like any other. The adapters in ``am_dbg.adapters`` are built on it.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgpack

from am_rpc import typed_wire
from am_rpc.dbg.addr import DEFAULT_DBG_ADDR, split_addr
from am_rpc.dbg.link import DbgLink, LinkStats
from am_rpc.dbg.outbox import Outbox
from am_rpc.dbg.protocol import SchemaMsg, StateDef

__all__ = ["MUT_ADD", "MUT_REMOVE", "MUT_SET", "RawSender", "StateDef"]

MUT_ADD, MUT_REMOVE, MUT_SET = 0, 1, 2
"""Mutation types of a transition message (am_core's ``MutationType``)."""

LOG_CHANGES = 2
"""The log level of the lines given to :meth:`RawSender.transition` (am_core ``LogLevel``)."""


class RawSender:
    """Streams one foreign machine to am-dbg. Thread-safe; never blocks the caller on the network.

    ``states`` is the index order am-dbg shows; ``relations`` maps a state to its `StateDef`
    (``require`` / ``add`` / ``remove`` / ``after`` by name, ``tags``); ``groups`` maps a group
    name to its states. Unknown names in ``called`` / ``active`` raise ``ValueError`` naming them.
    """

    def __init__(
        self,
        mach_id: str,
        states: Sequence[str],
        addr: str | None = None,
        *,
        relations: Mapping[str, StateDef] | None = None,
        groups: Mapping[str, Sequence[str]] | None = None,
        tags: Sequence[str] = (),
        parent: str = "",
        outbox_limit: int = 10_000,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.addr = DEFAULT_DBG_ADDR if addr in (None, "", "1") else str(addr)
        host, port = split_addr(self.addr)
        self.mach_id = str(mach_id)
        self.token = secrets.token_hex(8)
        self._id_prefix = f"{self.token[:8]}-"
        self._tags = tuple(tags)
        self._parent = parent
        self._lock = threading.Lock()
        self._seq = 0
        self._closed = False
        self.outbox = Outbox(outbox_limit)
        # one reusable packer (used under the lock): cheaper than a packb call per transition
        self._pack = msgpack.Packer(use_bin_type=True, default=typed_wire.default).pack
        self._set_schema(states, relations, groups)
        self._ticks = [0] * len(self._index)
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self.link = DbgLink(
            host, port, lambda: self._schema, outbox=self.outbox, loop=loop, name=self.mach_id
        )

    # -- schema -----------------------------------------------------------------------------

    def _set_schema(
        self,
        states: Sequence[str],
        relations: Mapping[str, StateDef] | None,
        groups: Mapping[str, Sequence[str]] | None,
    ) -> None:
        index = tuple(dict.fromkeys(str(s) for s in states))
        if not index:
            raise ValueError("a machine needs at least one state")
        pos = {n: i for i, n in enumerate(index)}
        rels = dict(relations or {})
        unknown = [n for n in rels if n not in pos]
        if unknown:
            raise ValueError(f"relations for unknown state {unknown[0]!r}")
        defs = {n: rels.get(n, StateDef()) for n in index}
        gmap: dict[str, tuple[int, ...]] = {}
        for g, members in (groups or {}).items():
            missing = [m for m in members if m not in pos]
            if missing:
                raise ValueError(f"group {g!r}: unknown state {missing[0]!r}")
            gmap[g] = tuple(pos[m] for m in members)
        self._index = index
        self._pos = pos
        self._schema = SchemaMsg(
            id=self.mach_id,
            states_index=index,
            states=defs,
            groups=gmap,
            groups_order=tuple(gmap),
            parent=self._parent,
            tags=self._tags,
            token=self.token,
        )

    def set_schema(
        self,
        states: Sequence[str],
        relations: Mapping[str, StateDef] | None = None,
        groups: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Replace the schema (a state added at runtime); ticks of kept states carry over."""
        with self._lock:
            old = dict(zip(self._index, self._ticks, strict=True))
            self._set_schema(states, relations, groups)
            self._ticks = [old.get(n, 0) for n in self._index]
            self.outbox.put_schema(self._schema)
        self.link.wake()

    @property
    def schema(self) -> SchemaMsg:
        return self._schema

    @property
    def states(self) -> tuple[str, ...]:
        return self._index

    # -- transitions ------------------------------------------------------------------------

    def transition(
        self,
        called: Sequence[str],
        active: Iterable[str],
        *,
        mtype: int = MUT_ADD,
        accepted: bool = True,
        log: Sequence[str] = (),
        args: Mapping[str, Any] | None = None,
        auto: bool = False,
        tx_id: str | None = None,
    ) -> str:
        """Send one transition: ``called`` states of a ``mtype`` mutation, the ``active`` states
        after it (ignored when not ``accepted``: nothing changed), its ``log`` lines (shown in
        am-dbg's log view) and ``args`` (shown as ``key=str(value)``). Returns its id."""
        pos = self._pos
        try:
            called_idx = [pos[n] for n in called]
        except KeyError as e:
            raise ValueError(
                f"called: unknown state {e.args[0]!r} of machine {self.mach_id}"
            ) from None
        with self._lock:
            if accepted:
                try:
                    now = {pos[n] for n in active}
                except KeyError as e:
                    raise ValueError(
                        f"active: unknown state {e.args[0]!r} of machine {self.mach_id}"
                    ) from None
                ticks = self._ticks
                for i, t in enumerate(ticks):
                    if (t & 1) != (i in now):
                        ticks[i] = t + 1
            self._seq += 1
            msg: dict[str, Any] = {
                "m": self.mach_id,
                "id": tx_id or f"{self._id_prefix}{self._seq}",
                "c": list(self._ticks),
                "t": int(mtype),
                "s": called_idx,
            }
            if not accepted:
                msg["acc"] = False
            if auto:
                msg["auto"] = True
            if log:
                msg["log"] = [[LOG_CHANGES, line] for line in log]
            if args:
                msg["args"] = {str(k): _short(v) for k, v in args.items()}
            self.outbox.put_tx(self._pack(msg))
        self.link.wake()
        return str(msg["id"])

    def active(self) -> list[str]:
        """The states active after the last accepted transition sent."""
        with self._lock:
            return [n for n, t in zip(self._index, self._ticks, strict=True) if t % 2 == 1]

    # -- lifecycle --------------------------------------------------------------------------

    def stats(self) -> LinkStats:
        return self.link.stats()

    def close(self, timeout: float = 2.0) -> bool:
        """Flush (wait up to ``timeout`` for am-dbg to confirm everything), then disconnect."""
        self._closed = True
        return self.link.close(timeout)


def _short(v: Any, limit: int = 60) -> str:
    s = str(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."
