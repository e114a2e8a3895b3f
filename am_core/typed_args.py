"""Typed args: a state declares the shape of its args as a dataclass or a ``TypedDict``
(``State(args=ConnectArgs)``); mutations are checked against it, handlers read it typed with
``e.args_of(ConnectArgs)``. Args stay a plain dict of fields underneath, so untyped code,
``when_args`` and the wire keep working (docs/typed-args.md).

Dataclass *values* inside args travel over aRPC / telemetry as the type name plus the msgpack of
their fields and are rebuilt where the type is known: every type a ``State`` declares is
registered here, others via :func:`register_args_type`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, Union, cast

from .errors import InvalidArgsError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    ArgsIn = Mapping[str, Any] | DataclassInstance | None
else:
    ArgsIn = Any

__all__ = [
    "ArgsIn",
    "args_of",
    "args_type_named",
    "check_args",
    "is_args_type",
    "register_args_type",
    "to_args",
    "type_name",
]

T = TypeVar("T")


class _Registry:
    """Name -> type of every declared args type: the one process-wide table, like ``copyreg``
    (decoding must not import modules named by a peer)."""

    def __init__(self) -> None:
        self.by_name: dict[str, type] = {}
        self.hints: dict[type, dict[str, Any]] = {}


_REG = _Registry()


def type_name(t: type) -> str:
    """The name a type travels under: its ``__qualname__``."""
    return t.__qualname__


def is_args_type(t: object) -> bool:
    """A dataclass type or a ``TypedDict`` type."""
    if not isinstance(t, type):
        return False
    if dataclasses.is_dataclass(t):
        return True
    return issubclass(t, dict) and hasattr(t, "__required_keys__")


def register_args_type(t: type) -> type:
    """Make ``t`` decodable by name on this side of a connection; returns ``t`` (a decorator)."""
    if not is_args_type(t):
        raise TypeError(f"{t!r} is not a dataclass or TypedDict type")
    if _REG.by_name.get(type_name(t)) is t:
        return t
    _REG.by_name[type_name(t)] = t
    try:
        hints = _hints(t)
    except (NameError, TypeError):
        return t  # forward references that cannot resolve yet: fields register on first use
    for hint in hints.values():
        for inner in _dataclasses_in(hint):
            register_args_type(inner)
    return t


def _dataclasses_in(hint: Any) -> list[type]:
    """Dataclass types a field hint mentions (``Peer``, ``list[Peer]``, ``Peer | None``)."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return [hint]
    out: list[type] = []
    for arg in typing.get_args(hint):
        out += _dataclasses_in(arg)
    return out


def args_type_named(name: str) -> type | None:
    return _REG.by_name.get(name)


def _hints(t: type) -> dict[str, Any]:
    h = _REG.hints.get(t)
    if h is None:
        h = typing.get_type_hints(t)
        _REG.hints[t] = h
    return h


def _required(t: type) -> list[str]:
    if dataclasses.is_dataclass(t):
        return [
            f.name
            for f in dataclasses.fields(t)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
    return sorted(getattr(t, "__required_keys__", ()))


def to_args(args: ArgsIn) -> dict[str, Any]:
    """The args dict of a mutation: a dataclass instance becomes a dict of its fields (shallow)."""
    if args is None:
        return {}
    if type(args) is dict:
        return args
    if dataclasses.is_dataclass(args) and not isinstance(args, type):
        return {f.name: getattr(args, f.name) for f in dataclasses.fields(args)}
    if isinstance(args, Mapping):
        return dict(args)
    raise InvalidArgsError(
        f"args must be a dict, a Mapping or a dataclass instance, got {type(args).__name__}"
    )


def _matches(value: Any, hint: Any) -> bool:
    if hint is Any or hint is object:
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is None or hint is type(None):
        return value is None
    if origin is not None:
        hint = origin
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(hint, type):
        if hasattr(hint, "__required_keys__"):  # a nested TypedDict
            return isinstance(value, dict)
        return isinstance(value, hint)
    return True  # TypeVars, Annotated, forward refs we cannot judge


def check_args(state: str, t: type, args: Mapping[str, Any], require: bool) -> None:
    """Raise :class:`InvalidArgsError` naming ``state`` and the field when ``args`` do not fit
    ``t``: a present field of the wrong type, or (``require``: an add / set) a missing required
    one. Keys that are not fields of ``t`` are left alone (they may belong to another state)."""
    hints = _hints(t)
    for name, hint in hints.items():
        if name in args:
            value = args[name]
            if not _matches(value, hint):
                raise InvalidArgsError(
                    f"{state}: field {name!r} of {type_name(t)} expects "
                    f"{_hint_str(hint)}, got {type(value).__name__}"
                )
    if require:
        for name in _required(t):
            if name not in args:
                raise InvalidArgsError(f"{state}: field {name!r} of {type_name(t)} is missing")


def _hint_str(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def args_of(args: Mapping[str, Any], t: type[T]) -> T:
    """The args as ``t``: a dataclass built from the fields present (defaults for the rest), a
    ``TypedDict`` as the dict itself. Raises :class:`InvalidArgsError` if a required field lacks."""
    if dataclasses.is_dataclass(t):
        names = {f.name for f in dataclasses.fields(t) if f.init}
        missing = [n for n in _required(t) if n not in args]
        if missing:
            raise InvalidArgsError(f"args lack field {missing[0]!r} of {type_name(t)}")
        return cast(T, t(**{k: v for k, v in args.items() if k in names}))
    if is_args_type(t):
        return cast(T, args)
    raise TypeError(f"{t!r} is not a dataclass or TypedDict type")


def encode_typed(value: Any) -> tuple[str, dict[str, Any]] | None:
    """``(type name, fields)`` for a dataclass instance (the wire form), else None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type_name(type(value)), {
            f.name: getattr(value, f.name) for f in dataclasses.fields(value)
        }
    return None


def decode_typed(name: str, fields: dict[str, Any]) -> Any:
    """The instance when ``name`` is a registered dataclass, else the fields plus ``"@type"``
    (nothing is lost when the receiver does not know the type)."""
    t = _REG.by_name.get(name)
    if t is not None and dataclasses.is_dataclass(t):
        try:
            return args_of(fields, t)
        except (InvalidArgsError, TypeError):
            pass
    return {"@type": name, **fields}
