"""The JSON messages of asyncmachine-go's ``pkg/integrations``, and their handlers for a machine.

Same field names and meaning as Go's ``MutationReq/Resp``, ``WaitingReq/Resp`` and
``GetterReq/Resp`` (docs/protocol.md, "Machines over NATS"): a Go program and a Python one can
mutate and query each other's machines. ``kind`` is a string (``"am_req_mutation"``); the form
``{"Value": "am_req_mutation"}`` that Go's generated jsonschema describes is accepted too.

Beyond Go: a request that cannot be served gets a response of its kind with an ``"error"``
string (a mutation's ``result`` is then ``1``, Canceled), where Go only logs it; a request whose
JSON is malformed or whose kind is unknown gets ``{"kind": "am_resp_error", "error": ...}``.
Go's decoders ignore the extra field. ``"set"`` in a mutation request is ours (Go has only add
and remove).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from am_rpc.errors import RpcError

__all__ = [
    "KIND_REQ_GETTER",
    "KIND_REQ_MUTATION",
    "KIND_REQ_WAITING",
    "KIND_RESP_ERROR",
    "KIND_RESP_GETTER",
    "KIND_RESP_MUTATION",
    "KIND_RESP_WAITING",
    "RESP_KIND",
    "BadRequestError",
    "decode_request",
    "error_resp",
    "getter_req",
    "getter_resp",
    "mutation_req",
    "mutation_resp",
    "waiting_plan",
    "waiting_req",
    "waiting_resp",
]

KIND_REQ_GETTER = "am_req_getter"
KIND_REQ_MUTATION = "am_req_mutation"
KIND_REQ_WAITING = "am_req_waiting"
KIND_RESP_GETTER = "am_resp_getter"
KIND_RESP_MUTATION = "am_resp_mutation"
KIND_RESP_WAITING = "am_resp_waiting"
KIND_RESP_ERROR = "am_resp_error"

REQ_KINDS = (KIND_REQ_GETTER, KIND_REQ_MUTATION, KIND_REQ_WAITING)
RESP_KINDS = (KIND_RESP_GETTER, KIND_RESP_MUTATION, KIND_RESP_WAITING, KIND_RESP_ERROR)
RESP_KIND = {
    KIND_REQ_GETTER: KIND_RESP_GETTER,
    KIND_REQ_MUTATION: KIND_RESP_MUTATION,
    KIND_REQ_WAITING: KIND_RESP_WAITING,
}
_CANCELED = 1


class BadRequestError(RpcError, ValueError):
    """A request that cannot be served; ``str()`` is the error sent back. Also a `ValueError`."""


def _kind(val: Any) -> str:
    if isinstance(val, dict):  # the jsonschema's {"Value": ...} form
        val = val.get("Value")
    return val if isinstance(val, str) else ""


def _names(req: dict[str, Any], key: str) -> list[str]:
    val = req.get(key)
    if val is None:
        return []
    if not isinstance(val, list) or not all(isinstance(s, str) for s in val):
        raise BadRequestError(f"{key!r} must be a list of state names")
    return list(val)


def _ints(req: dict[str, Any], key: str) -> list[int]:
    val = req.get(key)
    if val is None:
        return []
    if not isinstance(val, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in val
    ):
        raise BadRequestError(f"{key!r} must be a list of non-negative integers")
    return list(val)


def decode_request(data: bytes) -> tuple[str, dict[str, Any]] | None:
    """``(request kind, request)``; None for a *response* (not ours to answer).

    Raises `BadRequestError` for malformed JSON, a non-object or an unknown kind.
    """
    try:
        req = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequestError(f"malformed JSON: {err}") from None
    if not isinstance(req, dict):
        raise BadRequestError(f"expected a JSON object, got {type(req).__name__}")
    kind = _kind(req.get("kind"))
    if kind in RESP_KINDS:
        return None
    if kind not in REQ_KINDS:
        raise BadRequestError(f"unknown request kind {req.get('kind')!r}")
    return kind, req


def _missing(mach: Any, states: Sequence[str]) -> None:
    unknown = [s for s in states if not mach.has1(s)]
    if unknown:
        raise BadRequestError(f"state missing: ({' '.join(unknown)}) for {mach.id}")


# -- mutation ---------------------------------------------------------------------------------


def mutation_req(
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    args: dict[str, Any] | None = None,
    *,
    set_: Sequence[str] | None = None,
) -> dict[str, Any]:
    req: dict[str, Any] = {"kind": KIND_REQ_MUTATION}
    if add:
        req["add"] = list(add)
    if remove:
        req["remove"] = list(remove)
    if set_ is not None:
        req["set"] = list(set_)
    if args:
        req["args"] = args
    return req


def mutation_resp(mach: Any, req: dict[str, Any]) -> dict[str, Any]:
    """Run a mutation request on ``mach`` (Go's ``HandlerMutation``)."""
    add, remove = _names(req, "add"), _names(req, "remove")
    set_ = _names(req, "set") if "set" in req else None
    args = req.get("args")
    if args is not None and not isinstance(args, dict):
        raise BadRequestError("'args' must be an object")
    if set_ is not None:
        if add or remove:
            raise BadRequestError("mutation can be add, remove or set, not several")
        _missing(mach, set_)
        res = mach.set(set_, args)
    elif add and not remove:
        _missing(mach, add)
        res = mach.add(add, args)
    elif remove and not add:
        _missing(mach, remove)
        res = mach.remove(remove, args)
    elif add and remove:
        raise BadRequestError("mutation can be add or remove, not both")
    else:
        raise BadRequestError("mutation state names missing")
    return {"kind": KIND_RESP_MUTATION, "result": int(res)}


# -- waiting ----------------------------------------------------------------------------------


def waiting_req(
    states: Sequence[str] = (), *, states_not: Sequence[str] = (), time: Sequence[int] = ()
) -> dict[str, Any]:
    req: dict[str, Any] = {"kind": KIND_REQ_WAITING}
    if states:
        req["states"] = list(states)
    if states_not:
        req["states_not"] = list(states_not)
    if time:
        req["time"] = list(time)
    return req


def waiting_plan(mach: Any, req: dict[str, Any]) -> tuple[str, list[str], list[int]]:
    """Validate a waiting request: ``("not" | "time" | "when", states, time)``."""
    states, states_not = _names(req, "states"), _names(req, "states_not")
    time = _ints(req, "time")
    if not states and not states_not:
        raise BadRequestError("waiting states missing")
    if time and len(time) != len(states):
        raise BadRequestError("waiting states and time length mismatch")
    _missing(mach, states or states_not)
    if states_not:
        _missing(mach, states_not)
        return "not", states_not, []
    if time:
        return "time", states, time
    return "when", states, []


def waiting_resp(mach: Any, plan: tuple[str, list[str], list[int]]) -> dict[str, Any]:
    """The response once a planned wait resolved (Go's ``HandlerWaiting`` tail)."""
    how, states, _ = plan
    resp: dict[str, Any] = {"kind": KIND_RESP_WAITING, "mach_id": str(mach.id)}
    if how == "not":
        resp["states_not"] = states
    elif how == "when":
        resp["states"] = states
    else:
        resp["time"] = list(mach.time(states))
    return resp


# -- getter -----------------------------------------------------------------------------------


def getter_req(
    *,
    time: Sequence[str] = (),
    time_sum: Sequence[str] = (),
    clocks: Sequence[str] = (),
    tags: bool = False,
    export: bool = False,
    id: bool = False,
    parent_id: bool = False,
) -> dict[str, Any]:
    req: dict[str, Any] = {"kind": KIND_REQ_GETTER}
    for key, names in (("time", time), ("time_sum", time_sum), ("clocks", clocks)):
        if names:
            req[key] = list(names)
    for key, flag in (("tags", tags), ("export", export), ("id", id), ("parent_id", parent_id)):
        if flag:
            req[key] = True
    return req


def getter_resp(mach: Any, req: dict[str, Any]) -> dict[str, Any]:
    """Answer a getter request from ``mach`` (Go's ``HandlerGetter``)."""
    resp: dict[str, Any] = {"kind": KIND_RESP_GETTER}
    time, time_sum, clocks = _names(req, "time"), _names(req, "time_sum"), _names(req, "clocks")
    _missing(mach, [*time, *time_sum, *clocks])
    if req.get("id"):
        resp["id"] = str(mach.id)
    if req.get("parent_id"):
        resp["parent_id"] = str(mach.parent_id or "")
    if req.get("tags"):
        tags = mach.tags
        resp["tags"] = list(tags() if callable(tags) else tags or ())
    if req.get("export"):
        # Go's Serialized; built directly, as export() refuses a machine not verified yet
        resp["export"] = {
            "id": str(mach.id),
            "state_names": list(mach.state_names()),
            "time": list(mach.time()),
            "queue_tick": int(mach.queue_tick()),
            "machine_tick": int(mach.machine_tick()),
        }
    if time:
        resp["time"] = list(mach.time(time))
    if clocks:
        resp["clocks"] = dict(mach.clock(clocks))
    if time_sum:
        resp["time_sum"] = sum(mach.time(time_sum))
    return resp


def error_resp(kind: str, err: str) -> dict[str, Any]:
    """The response to a request that could not be served (see the module docstring)."""
    resp: dict[str, Any] = {"kind": RESP_KIND.get(kind, KIND_RESP_ERROR), "error": err}
    if kind == KIND_REQ_MUTATION:
        resp["result"] = _CANCELED
    return resp
