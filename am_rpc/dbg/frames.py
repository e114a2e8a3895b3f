"""The telemetry frames: the envelope around `SchemaMsg` / `TxMsg` on an am-dbg connection.

A telemetry connection is the shared codec of `am_rpc.codec` with the magic ``b"amDB"``: each side
sends an 8-byte preamble, then length-prefixed msgpack frames. Every frame is one msgpack map whose
``"k"`` key names its kind (`docs/protocol.md` is the written contract):

sender -> debugger
    ``{"k": "hello", "token": <shared secret>}``  (first frame, when the sender has a secret:
    ``AM_DBG_TOKEN``; a debugger started with ``--token`` refuses anything else first)
    ``{"k": "schema", "schema": <SchemaMsg map>}``
    ``{"k": "txs", "seq": <seq of the first tx>, "txs": [<bin: one packed TxMsg map>, ...],
    "dropped": <n>}``  (``dropped`` only when the outbox overflowed since the previous frame)
    ``{"k": "disc", "conn": <channel id>}``  (that channel's machine is gone)
    Frames may carry ``"conn"``: a channel id, so one connection carries many machines (the
    sender's machines of one process, or everything a forwarding debugger received).
debugger -> sender
    ``{"k": "ack", "seq": <seq of the last tx received>, "conn": <channel id, if any>}``
    ``{"k": "error", "msg": <text>}``  (then the debugger closes the connection), or with
    ``"conn"``: that one channel was refused (``--max-clients``) and is ignored from then on

Each tx is packed as its own msgpack ``bin`` so the debugger unpacks a frame in one cheap pass and
hands the model the exact bytes of every tx: nothing is decoded twice. ``seq`` numbers the tx
messages of one sender instance (1, 2, 3, ...): acks let a sender re-send what a dead connection
swallowed, and the debugger skips what it already has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from am_rpc.codec import MAGIC_DBG, check_depth
from am_rpc.dbg.protocol import MessageError, SchemaMsg
from am_rpc.errors import DecodeError

__all__ = [
    "KIND_ACK",
    "KIND_DISC",
    "KIND_ERROR",
    "KIND_HELLO",
    "KIND_SCHEMA",
    "KIND_TXS",
    "MAGIC",
    "AckFrame",
    "DiscFrame",
    "ErrorFrame",
    "HelloFrame",
    "SchemaFrame",
    "TxsFrame",
    "parse_client_frame",
    "parse_server_frame",
]

MAGIC = MAGIC_DBG
KIND_SCHEMA = "schema"
KIND_TXS = "txs"
KIND_DISC = "disc"
KIND_ACK = "ack"
KIND_ERROR = "error"
KIND_HELLO = "hello"


@dataclass(frozen=True, slots=True)
class HelloFrame:
    token: str  # the shared secret the sender presents ("" = none)


@dataclass(frozen=True, slots=True)
class SchemaFrame:
    schema: SchemaMsg
    conn: str = ""  # set only on forwarded frames


@dataclass(frozen=True, slots=True)
class TxsFrame:
    seq: int
    txs: list[bytes]
    dropped: int = 0
    conn: str = ""


@dataclass(frozen=True, slots=True)
class DiscFrame:
    conn: str


@dataclass(frozen=True, slots=True)
class AckFrame:
    seq: int
    conn: str = ""  # the channel acked, when the acked frames named one


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    msg: str


def _int(d: dict[Any, Any], key: str, what: str, default: int | None = None) -> int:
    val = d.get(key, default)
    if not isinstance(val, int) or isinstance(val, bool) or val < 0:
        raise MessageError(f"{what} frame: key {key!r} must be a non-negative int")
    return val


def _conn(d: dict[Any, Any], what: str) -> str:
    conn = d.get("conn", "")
    if not isinstance(conn, str):
        raise MessageError(f"{what} frame: key 'conn' must be a string")
    return conn


def parse_client_frame(obj: Any) -> SchemaFrame | TxsFrame | DiscFrame | HelloFrame:
    """Validate one decoded frame from a sender (or a forwarding debugger), its nesting too
    (`am_rpc.codec.check_depth`): the ingest server decodes with ``max_depth=0``, as the txs
    list, proven a flat list of bins here, is most of every frame."""
    if not isinstance(obj, dict):
        raise MessageError(f"frame must be a map, got {type(obj).__name__}")
    kind = obj.get("k")
    if kind == KIND_TXS:
        txs = obj.get("txs")
        if type(txs) is not list or [*map(type, txs)].count(bytes) != len(txs):
            raise MessageError("txs frame: key 'txs' must be a list of bin (packed tx maps)")
        _check_depth({k: v for k, v in obj.items() if k != "txs"})
        return TxsFrame(
            _int(obj, "seq", "txs", 0), txs, _int(obj, "dropped", "txs", 0), _conn(obj, "txs")
        )
    _check_depth(obj)
    if kind == KIND_SCHEMA:
        return SchemaFrame(SchemaMsg.from_wire(obj.get("schema")), _conn(obj, "schema"))
    if kind == KIND_DISC:
        conn = _conn(obj, "disc")
        if not conn:
            raise MessageError("disc frame: missing 'conn'")
        return DiscFrame(conn)
    if kind == KIND_HELLO:
        token = obj.get("token", "")
        if not isinstance(token, str):
            raise MessageError("hello frame: key 'token' must be a string")
        return HelloFrame(token)
    raise MessageError(f"unknown frame kind {kind!r}")


def _check_depth(obj: Any) -> None:
    try:
        check_depth(obj)
    except DecodeError as err:
        raise MessageError(f"frame: {err}") from None


def parse_server_frame(obj: Any) -> AckFrame | ErrorFrame:
    """Validate one decoded frame from the debugger."""
    if not isinstance(obj, dict):
        raise MessageError(f"frame must be a map, got {type(obj).__name__}")
    kind = obj.get("k")
    if kind == KIND_ACK:
        return AckFrame(_int(obj, "seq", "ack"), _conn(obj, "ack"))
    if kind == KIND_ERROR:
        msg = obj.get("msg", "")
        return ErrorFrame(msg if isinstance(msg, str) else repr(msg))
    raise MessageError(f"unknown frame kind {kind!r}")
