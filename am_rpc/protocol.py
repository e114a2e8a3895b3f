"""aRPC messages: envelopes, method and error codes, and typed bodies (docs/arpc.md).

Every body is a frozen dataclass with ``to_wire()`` (a msgpack-ready map with short keys, defaults
omitted to keep frames small) and ``from_wire(obj)`` (validates and raises
:class:`~am_rpc.errors.InvalidParamsError` naming the bad key). Unknown keys are ignored, so newer
peers can add fields. Envelope shape errors are :class:`~am_rpc.errors.EnvelopeError`: the connection
is closed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from am_rpc.errors import EnvelopeError, InvalidParamsError
from am_rpc.trace_context import TRACEPARENT_RE

MAX_STATES = 65_535


class Kind(enum.IntEnum):
    REQUEST = 0
    NOTIFY = 1
    RESPONSE = 2
    ERROR = 3


class Method(enum.IntEnum):
    """Wire method codes (docs/arpc.md)."""

    HELLO = 0x01
    HANDSHAKE = 0x02
    ADD = 0x03
    ADD_NS = 0x04
    REMOVE = 0x05
    SET = 0x06
    SYNC = 0x07
    ARGS = 0x08
    CLOSE = 0x09
    PING = 0x0E
    SET_CLOCK = 0x41
    SET_CLOCK_MANY = 0x42
    SEND_PAYLOAD = 0x43
    BYE = 0x44
    SCHEMA_CHANGE = 0x45


class ErrCode(enum.IntEnum):
    """Codes of ERROR frames (docs/arpc.md)."""

    CANCELED = 1
    INVALID_PARAMS = 2
    NO_ACCESS = 3
    NOT_CONNECTED = 4
    UNKNOWN_METHOD = 5
    DECODE = 6
    WRONG_DESTINATION = 7
    TIMEOUT = 8
    INTERNAL = 9


class MutationType(enum.IntEnum):
    ADD = 0
    REMOVE = 1
    SET = 2


# -- envelopes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    seq: int
    method: int
    body: Any


@dataclass(frozen=True, slots=True)
class Notify:
    method: int
    body: Any


@dataclass(frozen=True, slots=True)
class Response:
    seq: int
    body: Any


@dataclass(frozen=True, slots=True)
class ErrorReply:
    seq: int
    code: int
    message: str


Envelope = Request | Notify | Response | ErrorReply


def _is_uint(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def parse_envelope(obj: Any) -> Envelope:
    """Validate a decoded frame as an aRPC envelope; :class:`EnvelopeError` names what is wrong."""
    if not isinstance(obj, list) or not obj:
        raise EnvelopeError(f"envelope must be a non-empty array, got {type(obj).__name__}")
    kind = obj[0]
    if not _is_uint(kind) or kind > Kind.ERROR:
        raise EnvelopeError(f"unknown envelope kind {kind!r}")
    if kind == Kind.REQUEST:
        if len(obj) != 4 or not _is_uint(obj[1]) or obj[1] < 1 or not _is_uint(obj[2]):
            raise EnvelopeError("REQUEST must be [0, seq>=1, method, body]")
        return Request(obj[1], obj[2], obj[3])
    if kind == Kind.NOTIFY:
        if len(obj) != 3 or not _is_uint(obj[1]):
            raise EnvelopeError("NOTIFY must be [1, method, body]")
        return Notify(obj[1], obj[2])
    if kind == Kind.RESPONSE:
        if len(obj) != 3 or not _is_uint(obj[1]) or obj[1] < 1:
            raise EnvelopeError("RESPONSE must be [2, seq>=1, body]")
        return Response(obj[1], obj[2])
    if len(obj) != 4 or not _is_uint(obj[1]) or not _is_uint(obj[2]) or not isinstance(obj[3], str):
        raise EnvelopeError("ERROR must be [3, seq, code, message]")
    return ErrorReply(obj[1], obj[2], obj[3])


def request(seq: int, method: int, body: Any) -> list[Any]:
    return [Kind.REQUEST.value, seq, int(method), body]


def notify(method: int, body: Any) -> list[Any]:
    return [Kind.NOTIFY.value, int(method), body]


def response(seq: int, body: Any) -> list[Any]:
    return [Kind.RESPONSE.value, seq, body]


def error_reply(seq: int, code: int, message: str) -> list[Any]:
    return [Kind.ERROR.value, seq, int(code), message]


# -- body validation helpers -----------------------------------------------------------------------


def _map(obj: Any, what: str) -> dict[Any, Any]:
    if not isinstance(obj, dict):
        raise InvalidParamsError(f"{what}: body must be a map, got {type(obj).__name__}")
    return obj


def _get(d: dict[Any, Any], key: str, check: Any, default: Any, what: str, desc: str) -> Any:
    if key not in d or d[key] is None:
        return default
    v = d[key]
    if not check(v):
        raise InvalidParamsError(f"{what}: key {key!r} must be {desc}, got {v!r:.60}")
    return v


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_uints(v: Any) -> bool:
    return isinstance(v, list) and all(_is_uint(x) for x in v)


def _is_ints(v: Any) -> bool:
    return isinstance(v, list) and all(_is_int(x) for x in v)


def _is_strs(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_map(v: Any) -> bool:
    return isinstance(v, dict)


# -- bodies ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HelloReq:
    id: str
    sync_schema: bool = True
    schema_hash: str = ""
    sync_mutations: bool = False
    allowed: tuple[str, ...] | None = None
    skipped: tuple[str, ...] | None = None
    shallow: bool = False
    auth: str | None = None

    def to_wire(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id}
        if self.sync_schema:
            d["ss"] = True
        if self.schema_hash:
            d["sh"] = self.schema_hash
        if self.sync_mutations:
            d["sm"] = True
        if self.allowed is not None:
            d["as"] = list(self.allowed)
        if self.skipped is not None:
            d["ks"] = list(self.skipped)
        if self.shallow:
            d["sc"] = True
        if self.auth is not None:
            d["auth"] = self.auth
        return d

    @classmethod
    def from_wire(cls, obj: Any) -> HelloReq:
        w = "hello"
        d = _map(obj, w)
        id_ = _get(d, "id", _is_str, "", w, "a string")
        if not id_:
            raise InvalidParamsError("handshake failed: ID missing")
        allowed = _get(d, "as", _is_strs, None, w, "a list of strings")
        skipped = _get(d, "ks", _is_strs, None, w, "a list of strings")
        auth = _get(d, "auth", lambda v: isinstance(v, str | bytes), None, w, "str or bin")
        if isinstance(auth, bytes):
            auth = auth.decode("utf-8", "replace")
        return cls(
            id=id_,
            sync_schema=_get(d, "ss", _is_bool, False, w, "a bool"),
            schema_hash=_get(d, "sh", _is_str, "", w, "a string"),
            sync_mutations=_get(d, "sm", _is_bool, False, w, "a bool"),
            allowed=None if allowed is None else tuple(allowed),
            skipped=None if skipped is None else tuple(skipped),
            shallow=_get(d, "sc", _is_bool, False, w, "a bool"),
            auth=auth,
        )


@dataclass(frozen=True, slots=True)
class Serialized:
    """The source's identity and absolute clock."""

    id: str
    names: tuple[str, ...]
    time: tuple[int, ...]
    queue_tick: int
    machine_tick: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "names": list(self.names),
            "time": list(self.time),
            "qt": self.queue_tick,
            "mt": self.machine_tick,
        }

    @classmethod
    def from_wire(cls, obj: Any) -> Serialized:
        w = "serialized"
        d = _map(obj, w)
        names = _get(d, "names", _is_strs, [], w, "a list of strings")
        time = _get(d, "time", _is_uints, [], w, "a list of uints")
        if len(names) > MAX_STATES:
            raise InvalidParamsError(f"{w}: {len(names)} states exceed the limit {MAX_STATES}")
        if len(names) != len(time):
            raise InvalidParamsError(f"{w}: {len(names)} names but {len(time)} ticks")
        if len(set(names)) != len(names):
            raise InvalidParamsError(f"{w}: duplicate state names")
        return cls(
            id=_get(d, "id", _is_str, "", w, "a string"),
            names=tuple(names),
            time=tuple(time),
            queue_tick=_get(d, "qt", _is_uint, 0, w, "a uint"),
            machine_tick=_get(d, "mt", _is_uint, 0, w, "a uint"),
        )


@dataclass(frozen=True, slots=True)
class HelloResp:
    """HELLO response and SCHEMA_CHANGE request: names, clock and (maybe) the schema."""

    serialized: Serialized
    schema: dict[str, dict[str, Any]] | None = None
    states_count: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {"schema": self.schema, "ser": self.serialized.to_wire(), "n": self.states_count}

    @classmethod
    def from_wire(cls, obj: Any) -> HelloResp:
        w = "hello response"
        d = _map(obj, w)
        schema = _get(d, "schema", _is_map, None, w, "a map")
        if schema is not None:
            for name, st in schema.items():
                if not isinstance(name, str) or not isinstance(st, dict):
                    raise InvalidParamsError(f"{w}: schema entry {name!r} is malformed")
        if "ser" not in d:
            raise InvalidParamsError(f"{w}: key 'ser' missing")
        return cls(
            serialized=Serialized.from_wire(d["ser"]),
            schema=schema,
            states_count=_get(d, "n", _is_uint, 0, w, "a uint"),
        )


@dataclass(frozen=True, slots=True)
class Event:
    """The source event of a traced mutation (``ev_add``)."""

    machine_id: str = ""
    name: str = ""
    tx_id: str = ""
    is_check: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {"mid": self.machine_id, "name": self.name, "tx": self.tx_id, "chk": self.is_check}

    @classmethod
    def from_wire(cls, obj: Any) -> Event:
        w = "event"
        d = _map(obj, w)
        return cls(
            machine_id=_get(d, "mid", _is_str, "", w, "a string"),
            name=_get(d, "name", _is_str, "", w, "a string"),
            tx_id=_get(d, "tx", _is_str, "", w, "a string"),
            is_check=_get(d, "chk", _is_bool, False, w, "a bool"),
        )


@dataclass(frozen=True, slots=True)
class MutationReq:
    states: tuple[int, ...]
    args: dict[str, Any] | None = None
    event: Event | None = None
    # W3C traceparent of the caller's span (docs/arpc.md#trace-context); absent: none
    traceparent: str | None = None

    def to_wire(self) -> dict[str, Any]:
        d: dict[str, Any] = {"s": list(self.states)}
        if self.args:
            d["a"] = self.args
        if self.event is not None:
            d["e"] = self.event.to_wire()
        if self.traceparent is not None:
            d["t"] = self.traceparent
        return d

    @classmethod
    def from_wire(cls, obj: Any) -> MutationReq:
        w = "mutation"
        d = _map(obj, w)
        if "s" not in d or not _is_uints(d["s"]):
            raise InvalidParamsError(f"{w}: key 's' must be a list of state indexes")
        args = _get(d, "a", _is_map, None, w, "a map")
        if args is not None and not all(isinstance(k, str) for k in args):
            raise InvalidParamsError(f"{w}: args keys must be strings")
        ev = d.get("e")
        tp = _get(d, "t", _is_str, None, w, "a traceparent string")
        if tp is not None and not TRACEPARENT_RE.match(tp):
            raise InvalidParamsError(f"{w}: key 't' is not a W3C traceparent: {tp[:64]!r}")
        return cls(
            states=tuple(d["s"]),
            args=args,
            event=None if ev is None else Event.from_wire(ev),
            traceparent=tp,
        )


@dataclass(frozen=True, slots=True)
class Update:
    """A clock diff: tick increments at indexes, queue/machine tick increments, checksum."""

    indexes: tuple[int, ...] = ()
    ticks: tuple[int, ...] = ()
    queue_tick: int = 0
    machine_tick: int = 0
    checksum: int = 0

    def to_wire(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.indexes:
            d["i"] = list(self.indexes)
            d["t"] = list(self.ticks)
        if self.queue_tick:
            d["q"] = self.queue_tick
        if self.machine_tick:
            d["mt"] = self.machine_tick
        d["c"] = self.checksum
        return d

    @classmethod
    def from_wire(cls, obj: Any) -> Update:
        w = "update"
        d = _map(obj, w)
        idx = _get(d, "i", _is_uints, [], w, "a list of uints")
        ticks = _get(d, "t", _is_ints, [], w, "a list of ints")
        if len(idx) != len(ticks):
            raise InvalidParamsError(f"{w}: {len(idx)} indexes but {len(ticks)} ticks")
        c = _get(d, "c", _is_uint, 0, w, "a uint")
        if c > 255:
            raise InvalidParamsError(f"{w}: checksum {c} out of range 0..255")
        return cls(
            indexes=tuple(idx),
            ticks=tuple(ticks),
            queue_tick=_get(d, "q", _is_int, 0, w, "an int"),
            machine_tick=_get(d, "mt", _is_int, 0, w, "an int"),
            checksum=c,
        )


@dataclass(frozen=True, slots=True)
class UpdateMany:
    """One diff per source mutation (SyncMutations), each relative to the previous one."""

    types: tuple[int, ...] = ()
    called: tuple[tuple[int, ...], ...] = ()
    updates: tuple[Update, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            "mt": list(self.types),
            "cs": [list(c) for c in self.called],
            "u": [u.to_wire() for u in self.updates],
        }

    @classmethod
    def from_wire(cls, obj: Any) -> UpdateMany:
        w = "update many"
        d = _map(obj, w)
        types = _get(d, "mt", _is_uints, [], w, "a list of uints")
        called = _get(d, "cs", lambda v: isinstance(v, list), [], w, "a list")
        if not all(_is_uints(c) for c in called):
            raise InvalidParamsError(f"{w}: key 'cs' must be lists of uints")
        ups = _get(d, "u", lambda v: isinstance(v, list), [], w, "a list")
        if not len(types) == len(called) == len(ups):
            raise InvalidParamsError(f"{w}: lists 'mt', 'cs' and 'u' differ in length")
        return cls(
            types=tuple(types),
            called=tuple(tuple(c) for c in called),
            updates=tuple(Update.from_wire(u) for u in ups),
        )


@dataclass(frozen=True, slots=True)
class MutationResult:
    result: int
    update: Update | None = None
    many: UpdateMany | None = None

    def to_wire(self) -> dict[str, Any]:
        d: dict[str, Any] = {"r": self.result}
        if self.update is not None:
            d["u"] = self.update.to_wire()
        if self.many is not None:
            d["m"] = self.many.to_wire()
        return d

    @classmethod
    def from_wire(cls, obj: Any) -> MutationResult:
        w = "mutation result"
        d = _map(obj, w)
        if "r" not in d or not _is_uint(d["r"]):
            raise InvalidParamsError(f"{w}: key 'r' must be a uint")
        u = d.get("u")
        m = d.get("m")
        return cls(
            result=d["r"],
            update=None if u is None else Update.from_wire(u),
            many=None if m is None else UpdateMany.from_wire(m),
        )


@dataclass(frozen=True, slots=True)
class SyncResult:
    time: tuple[int, ...]
    queue_tick: int
    machine_tick: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {"time": list(self.time), "qt": self.queue_tick, "mt": self.machine_tick}

    @classmethod
    def from_wire(cls, obj: Any) -> SyncResult:
        w = "sync result"
        d = _map(obj, w)
        return cls(
            time=tuple(_get(d, "time", _is_uints, [], w, "a list of uints")),
            queue_tick=_get(d, "qt", _is_uint, 0, w, "a uint"),
            machine_tick=_get(d, "mt", _is_uint, 0, w, "a uint"),
        )


@dataclass(frozen=True, slots=True)
class Payload:
    """Data pushed from the source's handlers to a client (docs/arpc.md)."""

    name: str
    data: Any = None
    destination: str = ""
    token: str = ""
    source: str = ""
    source_tx: str = ""

    def to_wire(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "data": self.data}
        for key, val in (
            ("dst", self.destination),
            ("tok", self.token),
            ("src", self.source),
            ("stx", self.source_tx),
        ):
            if val:
                d[key] = val
        return d

    @classmethod
    def from_wire(cls, obj: Any) -> Payload:
        w = "payload"
        d = _map(obj, w)
        return cls(
            name=_get(d, "name", _is_str, "", w, "a string"),
            data=d.get("data"),
            destination=_get(d, "dst", _is_str, "", w, "a string"),
            token=_get(d, "tok", _is_str, "", w, "a string"),
            source=_get(d, "src", _is_str, "", w, "a string"),
            source_tx=_get(d, "stx", _is_str, "", w, "a string"),
        )


@dataclass(frozen=True, slots=True)
class ArgsResult:
    args: tuple[str, ...] = field(default_factory=tuple)

    def to_wire(self) -> dict[str, Any]:
        return {"args": list(self.args)}

    @classmethod
    def from_wire(cls, obj: Any) -> ArgsResult:
        d = _map(obj, "args")
        return cls(tuple(_get(d, "args", _is_strs, [], "args", "a list of strings")))
