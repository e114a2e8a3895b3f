"""Machines over NATS: `expose` a machine under a topic, and the request helpers of any client.

As Go's ``pkg/integrations/nats``: the machine answers requests on ``<topic>`` (optionally in a
queue group, so one of several machines takes each request) and on its own
``<topic>.<machine id>``. Messages are the JSON of `am_rpc.nats.json_msgs`; mutation and getter
requests are answered on the reply subject; a waiting request is answered when the condition
holds, on the reply subject or (without one, as Go does) published on the request's subject.
Bad input never breaks the subscription: it gets an error response (docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from am_core import Ctx, Result
from am_rpc.errors import RpcError
from am_rpc.nats.json_msgs import (
    KIND_REQ_GETTER,
    KIND_REQ_MUTATION,
    KIND_REQ_WAITING,
    KIND_RESP_ERROR,
    BadRequestError,
    decode_request,
    error_resp,
    getter_req,
    getter_resp,
    mutation_req,
    mutation_resp,
    waiting_plan,
    waiting_req,
    waiting_resp,
)

__all__ = [
    "ExposeStats",
    "Exposed",
    "NatsRequestError",
    "add",
    "expose",
    "get",
    "remove",
    "set_",
    "when",
]

log = logging.getLogger("am_rpc.nats")


class NatsRequestError(RpcError, RuntimeError):
    """The remote machine answered with an error (its text is the message)."""


@dataclass(slots=True)
class ExposeStats:
    requests: int = 0  # requests answered (errors included)
    errors: int = 0  # requests answered with an error
    waiting: int = 0  # waiting requests not resolved yet


class Exposed:
    """A machine exposed on NATS; :meth:`close` unsubscribes and gives up pending waits."""

    def __init__(self, mach: Any, nc: Any, topic: str, queue: str | None, max_waiting: int) -> None:
        self.mach = mach
        self.nc = nc
        self.topic = topic
        self.queue = queue
        self.subject = f"{topic}.{mach.id}"
        self.max_waiting = max_waiting
        self.stats = ExposeStats()
        self._subs: list[Any] = []
        self._ctx = Ctx()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = asyncio.Event()

    async def _start(self) -> None:
        if self.queue:
            self._subs.append(await self.nc.subscribe(self.topic, self.queue, cb=self._on_msg))
        else:
            self._subs.append(await self.nc.subscribe(self.topic, cb=self._on_msg))
        self._subs.append(await self.nc.subscribe(self.subject, cb=self._on_msg))
        await self.nc.flush()  # subscribed at the server before expose() returns

    async def _reply(self, msg: Any, resp: dict[str, Any], kind: str) -> None:
        data = json.dumps(resp).encode()
        if msg.reply:
            await self.nc.publish(msg.reply, data)
        elif kind == KIND_REQ_WAITING:
            await self.nc.publish(msg.subject, data)  # Go's async reply

    async def _on_msg(self, msg: Any) -> None:
        kind = ""
        try:
            decoded = decode_request(msg.data)
            if decoded is None:
                return  # a response (for example Go's waiting replies on the topic)
            kind, req = decoded
            if kind == KIND_REQ_MUTATION:
                resp = mutation_resp(self.mach, req)
            elif kind == KIND_REQ_GETTER:
                resp = getter_resp(self.mach, req)
            else:
                plan = waiting_plan(self.mach, req)
                if self.stats.waiting >= self.max_waiting:
                    raise BadRequestError(f"too many waiting requests (max {self.max_waiting})")
                task = asyncio.get_running_loop().create_task(self._wait(msg, plan))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return
        except (BadRequestError, ValueError, LookupError, TypeError) as err:
            await self._error(msg, kind, str(err))
            return
        except Exception as err:  # an AmError or a handler's; the subscription stays
            await self._error(msg, kind, f"{type(err).__name__}: {err}")
            return
        self.stats.requests += 1
        await self._reply(msg, resp, kind)

    async def _error(self, msg: Any, kind: str, err: str) -> None:
        self.stats.requests += 1
        self.stats.errors += 1
        log.debug("nats %s: bad request: %s", self.subject, err)
        if msg.reply:
            await self.nc.publish(msg.reply, json.dumps(error_resp(kind, err)).encode())

    async def _wait(self, msg: Any, plan: tuple[str, list[str], list[int]]) -> None:
        how, states, time = plan
        mach = self.mach
        if how == "not":
            waiter = mach.when_not(states, self._ctx)
        elif how == "time":
            waiter = mach.when_time(states, time, self._ctx)
        else:
            waiter = mach.when(states, self._ctx)
        self.stats.waiting += 1
        try:
            done = asyncio.ensure_future(self._closed.wait())
            got = asyncio.ensure_future(_await(waiter))
            await asyncio.wait([done, got], return_when=asyncio.FIRST_COMPLETED)
            done.cancel()
            got.cancel()
            if self._closed.is_set():
                return
            self.stats.requests += 1
            await self._reply(msg, waiting_resp(mach, plan), KIND_REQ_WAITING)
        finally:
            self.stats.waiting -= 1

    async def close(self) -> None:
        self._closed.set()
        self._ctx.cancel()
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except Exception:
                pass
        self._subs.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _await(waiter: Any) -> None:
    await waiter


async def expose(
    mach: Any, nc: Any, topic: str, queue: str | None = None, *, max_waiting: int = 10_000
) -> Exposed:
    """Answer JSON requests for ``mach`` on ``topic`` and ``topic.<id>`` (Go's ExposeMachine).

    ``nc`` is a connected nats-py client; ``queue`` puts the topic subscription in a queue group
    (load balancing across machines exposed under the same topic and queue). At most
    ``max_waiting`` waiting requests are pending at once (more get an error response).
    """
    exp = Exposed(mach, nc, topic, queue, max_waiting)
    await exp._start()
    return exp


# -- client helpers (any NATS client) --------------------------------------------------------


def _subject(topic: str, mach_id: str | None) -> str:
    return f"{topic}.{mach_id}" if mach_id else topic


async def _request(nc: Any, subject: str, req: dict[str, Any], timeout: float) -> dict[str, Any]:
    msg = await nc.request(subject, json.dumps(req).encode(), timeout=timeout)
    resp = json.loads(msg.data)
    if not isinstance(resp, dict):
        raise NatsRequestError(f"unexpected response {resp!r}")
    if "error" in resp or resp.get("kind") == KIND_RESP_ERROR:
        raise NatsRequestError(str(resp.get("error", "error")))
    return resp


async def _mutate(
    nc: Any, topic: str, mach_id: str | None, req: dict[str, Any], timeout: float
) -> Result:
    resp = await _request(nc, _subject(topic, mach_id), req, timeout)
    return Result(int(resp.get("result", 1)))


async def add(
    nc: Any,
    topic: str,
    mach_id: str | None,
    states: Sequence[str],
    args: dict[str, Any] | None = None,
    *,
    timeout: float = 5.0,
) -> Result:
    """Add ``states`` to the machine ``mach_id`` exposed under ``topic`` (None: any one of the
    topic). Raises `NatsRequestError` when it refused (an unknown state, ...), and nats-py's
    timeout error when nobody answered."""
    return await _mutate(nc, topic, mach_id, mutation_req(add=states, args=args), timeout)


async def remove(
    nc: Any,
    topic: str,
    mach_id: str | None,
    states: Sequence[str],
    args: dict[str, Any] | None = None,
    *,
    timeout: float = 5.0,
) -> Result:
    """Remove ``states``; see `add`."""
    return await _mutate(nc, topic, mach_id, mutation_req(remove=states, args=args), timeout)


async def set_(
    nc: Any,
    topic: str,
    mach_id: str | None,
    states: Sequence[str],
    args: dict[str, Any] | None = None,
    *,
    timeout: float = 5.0,
) -> Result:
    """Set exactly ``states`` (a Python-side extension: Go machines answer with an error)."""
    return await _mutate(nc, topic, mach_id, mutation_req(set_=states, args=args), timeout)


async def when(
    nc: Any,
    topic: str,
    mach_id: str | None,
    states: Sequence[str] = (),
    *,
    states_not: Sequence[str] = (),
    time: Sequence[int] = (),
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Wait until the remote machine has all ``states`` active (or ``states_not`` inactive, or
    ``states`` reached the ticks of ``time``); returns the WaitingResp."""
    req = waiting_req(states, states_not=states_not, time=time)
    return await _request(nc, _subject(topic, mach_id), req, timeout)


async def get(
    nc: Any,
    topic: str,
    mach_id: str | None,
    *,
    time: Sequence[str] = (),
    time_sum: Sequence[str] = (),
    clocks: Sequence[str] = (),
    tags: bool = False,
    export: bool = False,
    id: bool = False,
    parent_id: bool = False,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Read from the remote machine; returns the GetterResp with the requested fields."""
    req = getter_req(
        time=time,
        time_sum=time_sum,
        clocks=clocks,
        tags=tags,
        export=export,
        id=id,
        parent_id=parent_id,
    )
    return await _request(nc, _subject(topic, mach_id), req, timeout)
