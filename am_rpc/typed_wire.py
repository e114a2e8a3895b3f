"""Typed args on the wire (docs/typed-args.md).

aRPC: a dataclass value anywhere in args is packed as msgpack ext type :data:`EXT_TYPED` holding
``[type name, {field: value}]`` and unpacked back into the dataclass when this side registered the
type (every ``State(args=...)`` does), else into ``{"@type": name, **fields}``, so nothing is lost.
Telemetry: :func:`plain` gives the same information as plain maps (am-dbg stores and shows them
without knowing the type).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack

# am_core is imported only when a typed value is met: the codec stays importable without it

__all__ = ["EXT_TYPED", "default", "ext_hook", "plain", "typed_args_of"]

EXT_TYPED = 0x41
"""msgpack ext code of a typed value (``A`` for args)."""


def default(obj: Any) -> Any:
    """msgpack ``default`` hook: dataclass instances as :data:`EXT_TYPED`; others stay refused."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"can not serialize {type(obj).__name__!r} object")
    from am_core.typed_args import encode_typed

    enc = encode_typed(obj)
    assert enc is not None
    return msgpack.ExtType(EXT_TYPED, msgpack.packb(list(enc), default=default, use_bin_type=True))


def ext_hook(code: int, data: bytes) -> Any:
    """msgpack ``ext_hook``: rebuild :data:`EXT_TYPED` values; other codes stay ``ExtType``."""
    if code != EXT_TYPED:
        return msgpack.ExtType(code, data)
    body = msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=ext_hook)
    if not (isinstance(body, list) and len(body) == 2 and isinstance(body[0], str)):
        raise ValueError("typed value: expected [type name, fields]")
    name, fields = body
    if not isinstance(fields, dict):
        raise ValueError(f"typed value {name}: fields are not a map")
    from am_core.typed_args import decode_typed

    return decode_typed(name, fields)


def plain(value: Any) -> Any:
    """``value`` with every dataclass turned into ``{"@type": name, **fields}`` (recursively)."""
    from am_core.typed_args import encode_typed

    enc = encode_typed(value)
    if enc is not None:
        name, fields = enc
        return {"@type": name, **{k: plain(v) for k, v in fields.items()}}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def typed_args_of(mach: Any, called: list[str], args: dict[str, Any]) -> Any:
    """Telemetry field ``ta``: ``[type name, fields]`` for the first called state of ``mach``
    with an args type whose fields are present in ``args``, else None."""
    typed = getattr(mach, "_typed", None)
    if not typed or not args:
        return None
    for name in called:
        t = typed.get(name)
        if t is None:
            continue
        hints = getattr(t, "__annotations__", {})
        fields = {k: plain(args[k]) for k in args if k in hints}
        if fields:
            return [t.__qualname__, fields]
    return None
