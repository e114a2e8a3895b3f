"""PubSub over NATS: machines of many processes see each other without point-to-point links.

A `PubSub` member joins a named topic with some local machines and publishes their schemas and
clock changes; every member keeps a read-only `Mirror` of every other member's machines and can
read and ``when*`` on them. Messages are small JSON objects on
``<prefix>.<topic>.<member>`` (docs/protocol.md, "PubSub over NATS"):

- ``hello``: the member's machines with their states, relations and clocks: on join (asking
  for answers: every member sends its own hello to the newcomer's inbox only) and when a schema
  changes;
- ``clock``: one machine's new clocks, at most one per machine per ``min_interval``;
- ``hb``: every ``heartbeat`` seconds, the clocks of all its machines (so a lost update heals);
- ``sync``: ``want`` lists members whose hello this one missed; they answer to its inbox;
- ``bye``: the member leaves.

A member that sends nothing for ``gone_after`` seconds (default three heartbeats) is marked gone
(its mirrors' waiters are closed, `PubSubStates.MemberGone` is added on the member machine); it
comes back with its next message. The member machine streams to am-dbg like any other.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from am_core import Machine
from am_core.waiting import Waiter
from am_rpc.nats.mirror import Mirror
from am_rpc.nats.states import PubSubStates
from am_rpc.nats.subjects import token

__all__ = ["DEFAULT_PUBSUB_PREFIX", "Member", "PubSub", "join"]

log = logging.getLogger("am_rpc.nats")

DEFAULT_PUBSUB_PREFIX = "amps"
_HELLO_EVERY = 0.2  # at most one answering hello per this many seconds


@dataclass(slots=True)
class Member:
    """Another member of the topic, as last heard."""

    id: str
    machs: dict[str, Mirror] = field(default_factory=dict)
    last_seen: float = 0.0  # time.monotonic() of its last message
    gone: bool = False
    gone_at: float = 0.0  # time.monotonic() when it was marked gone


def _schema_of(mach: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, st in mach.schema().items():
        rel: dict[str, Any] = {
            k: list(getattr(st, k))
            for k in ("require", "add", "remove", "after")
            if getattr(st, k, None)
        }
        if st.auto:
            rel["auto"] = True
        if st.multi:
            rel["multi"] = True
        out[name] = rel
    return out


class _Tracer:
    """Marks a local machine dirty after each accepted transition (machine thread)."""

    def __init__(self, ps: PubSub, mach_id: str) -> None:
        self.ps = ps
        self.mach_id = mach_id

    def tracer_id(self) -> str:
        return f"pubsub:{self.ps.topic}"

    def transition_end(self, tx: Any) -> None:
        if tx.is_accepted:
            self.ps._mark(self.mach_id)

    def schema_change(self, machine: Any, old_schema: Any) -> None:
        self.ps._schema_changed()

    def inheritable(self) -> bool:
        return False


class PubSub:
    """A member of ``topic`` (see the module docstring); create it with `join`."""

    def __init__(
        self,
        nc: Any,
        topic: str,
        machs: Sequence[Any] = (),
        *,
        member_id: str | None = None,
        prefix: str = DEFAULT_PUBSUB_PREFIX,
        heartbeat: float = 1.0,
        gone_after: float | None = None,
        min_interval: float = 0.05,
    ) -> None:
        if not topic or any(c in topic for c in " .*>"):
            raise ValueError(f"topic must be one subject token, got {topic!r}")
        self.nc = nc
        self.topic = topic
        self.id = member_id or f"ps-{secrets.token_hex(4)}"
        self.prefix = prefix
        self.heartbeat = heartbeat
        self.gone_after = gone_after if gone_after is not None else 3 * heartbeat
        self.min_interval = min_interval
        self.subject = f"{prefix}.{topic}.{token(self.id)}"
        self.mach = Machine(PubSubStates.schema(), id=self.id)
        self.bad_messages = 0
        self._local: dict[str, Any] = {}
        self._tracers: dict[str, _Tracer] = {}
        self._members: dict[str, Member] = {}
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._hello_due = False
        self._want: set[str] = set()  # members whose hello we missed
        self._answer: set[str] = set()  # inboxes of members that asked for our hello
        self._inbox = ""
        self._inbox_sub: Any = None
        self._last_hello = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._sub: Any = None
        self._closed = False
        self._mach_waiters: list[tuple[str, Waiter]] = []
        for m in machs:
            self.add_mach(m)

    # -- local machines ---------------------------------------------------------------------

    def add_mach(self, mach: Any) -> None:
        """Publish ``mach`` on the topic from now on (any thread)."""
        mid = str(mach.id)
        tracer = _Tracer(self, mid)
        with self._lock:
            self._local[mid] = mach
            self._tracers[mid] = tracer
        mach.tracer_bind(tracer)
        self._schema_changed()

    def _mark(self, mach_id: str) -> None:
        with self._lock:
            self._dirty.add(mach_id)
        self._poke()

    def _schema_changed(self) -> None:
        self._hello_due = True
        self._poke()

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            if _running() is loop:
                wake.set()
            else:
                loop.call_soon_threadsafe(wake.set)
        except RuntimeError:
            pass

    # -- the others -------------------------------------------------------------------------

    def members(self) -> dict[str, Member]:
        """Every other member heard of (gone ones too, flagged)."""
        with self._lock:
            return dict(self._members)

    def mirrors(self) -> dict[str, Mirror]:
        """Every machine of the members that are not gone, by machine id."""
        with self._lock:
            return {
                mid: mir
                for m in self._members.values()
                if not m.gone
                for mid, mir in m.machs.items()
            }

    def mirror(self, mach_id: str) -> Mirror:
        """The mirror of a remote machine; ``KeyError`` naming it when nobody published it."""
        found = self.mirrors().get(mach_id)
        if found is None:
            raise KeyError(f"no member of {self.topic!r} publishes machine {mach_id!r}")
        return found

    def when_mach(self, mach_id: str) -> Waiter:
        """Closed once some member publishes machine ``mach_id``."""
        with self._lock:
            w = Waiter("whenMach")
            if any(mach_id in m.machs and not m.gone for m in self._members.values()):
                w.close()
            else:
                self._mach_waiters.append((mach_id, w))
            return w

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> PubSub:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.mach.add1("Start")
        self._sub = await self.nc.subscribe(f"{self.prefix}.{self.topic}.*", cb=self._on_msg)
        self._inbox = self.nc.new_inbox()
        self._inbox_sub = await self.nc.subscribe(self._inbox, cb=self._on_msg)
        await self.nc.flush()
        await self._send_hello(ask=True)
        self.mach.add1("Joined")
        self._tasks = [
            self._loop.create_task(self._publisher()),
            self._loop.create_task(self._heartbeats()),
        ]
        return self

    async def close(self) -> None:
        """Say bye and leave the topic (the local machines are left as they are)."""
        if self._closed:
            return
        self._closed = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with self._lock:
            tracers = list(self._tracers.items())
        for mid, tracer in tracers:
            try:
                self._local[mid].tracer_detach(tracer)
            except Exception:
                pass
        try:
            await self._publish({"k": "bye", "id": self.id})
            await self.nc.flush()
        except Exception:
            pass
        for sub in (self._sub, self._inbox_sub):
            if sub is not None:
                try:
                    await sub.unsubscribe()
                except Exception:
                    pass
        self.mach.remove1("Joined")
        self.mach.remove1("Start")

    # -- sending ----------------------------------------------------------------------------

    async def _publish(self, msg: dict[str, Any], to: str = "", ask: bool = False) -> None:
        """Publish on the topic (or to one member's inbox ``to``); ``ask``: answers wanted."""
        data = json.dumps(msg, separators=(",", ":")).encode()
        await self.nc.publish(to or self.subject, data, reply=self._inbox if ask else "")

    async def _send_hello(self, to: str = "", ask: bool = False) -> None:
        with self._lock:
            local = dict(self._local)
        machs = [
            {
                "id": mid,
                "states": list(m.state_names()),
                "schema": _schema_of(m),
                "t": list(m.time()),
            }
            for mid, m in local.items()
        ]
        msg = {"k": "hello", "id": self.id, "machs": machs, "hb": self.heartbeat}
        if to:  # a direct answer: the others already have it
            await self._publish(msg, to=to)
            return
        self._hello_due = False
        self._last_hello = time.monotonic()
        await self._publish(msg, ask=ask)

    async def _publisher(self) -> None:
        """Clock updates, at most one per machine per ``min_interval``; due hellos."""
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._hello_due:
                wait = self._last_hello + _HELLO_EVERY - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._send_hello()
            with self._lock:
                dirty, self._dirty = self._dirty, set()
                want, self._want = self._want, set()
                answer, self._answer = self._answer, set()
                local = dict(self._local)
            for inbox in answer:
                await self._send_hello(to=inbox)
            if want:
                await self._publish({"k": "sync", "id": self.id, "want": sorted(want)}, ask=True)
            for mid in dirty:
                m = local.get(mid)
                if m is not None:
                    await self._publish(
                        {"k": "clock", "id": self.id, "m": mid, "t": list(m.time())}
                    )
            if dirty:
                await asyncio.sleep(self.min_interval)

    async def _heartbeats(self) -> None:
        check = min(self.heartbeat, self.gone_after) / 2
        next_hb = time.monotonic() + self.heartbeat
        while True:
            await asyncio.sleep(check)
            now = time.monotonic()
            if now >= next_hb:
                next_hb = now + self.heartbeat
                with self._lock:
                    local = dict(self._local)
                times = {mid: list(m.time()) for mid, m in local.items()}
                try:
                    await self._publish({"k": "hb", "id": self.id, "t": times})
                except Exception as err:
                    log.debug("pubsub %s: heartbeat not sent: %s", self.topic, err)
            self._check_gone(now)

    def _check_gone(self, now: float) -> None:
        gone: list[Member] = []
        with self._lock:
            for m in self._members.values():
                if not m.gone and now - m.last_seen > self.gone_after:
                    m.gone, m.gone_at = True, now
                    gone.append(m)
        for m in gone:
            self._mark_gone(m)

    def _mark_gone(self, m: Member) -> None:
        for mir in m.machs.values():
            mir._set_gone(True)
        self.mach.add1("MemberGone", {"id": m.id})

    # -- receiving --------------------------------------------------------------------------

    async def _on_msg(self, nmsg: Any) -> None:
        try:
            msg = json.loads(nmsg.data)
            if not isinstance(msg, dict) or not isinstance(msg.get("id"), str):
                raise ValueError("not a pubsub message")
            self._on(msg, nmsg.reply or "")
        except Exception as err:  # bad input is counted and dropped; the member goes on
            self.bad_messages += 1
            log.debug("pubsub %s: bad message: %s", self.topic, err)

    def _on(self, msg: dict[str, Any], reply: str = "") -> None:
        sender = msg["id"]
        if sender == self.id:
            return
        kind = msg.get("k")
        now = time.monotonic()
        with self._lock:
            member = self._members.get(sender)
            new = member is None
            if member is None:
                if kind == "bye":
                    return
                member = self._members[sender] = Member(sender)
            came_back = member.gone and kind != "bye"
            member.last_seen = now
            if came_back:
                member.gone = False
        if kind == "bye":
            if not member.gone:
                member.gone, member.gone_at = True, now
                self._mark_gone(member)
            return
        if came_back:
            for mir in member.machs.values():
                mir._set_gone(False)
        if kind == "hello":
            self._on_hello(member, msg)
            if reply and (new or came_back):
                self._answer_to(reply)
        elif kind == "clock":
            found = member.machs.get(str(msg.get("m")))
            if found is not None:
                found._update(_ticks(msg.get("t")))
            else:
                self._want_hello(sender)  # we missed its hello
        elif kind == "hb":
            times = msg.get("t")
            if not isinstance(times, dict):
                raise ValueError("hb: 't' must be an object")
            for mid, t in times.items():
                known = member.machs.get(mid)
                if known is not None:
                    known._update(_ticks(t))
            if set(times) - set(member.machs):
                self._want_hello(sender)
        elif kind == "sync":
            want = msg.get("want")
            if isinstance(want, list) and self.id in want and reply:
                self._answer_to(reply)
        else:
            raise ValueError(f"unknown kind {kind!r}")
        if new or came_back:
            self.mach.add1("MemberJoined", {"id": sender})

    def _answer_to(self, inbox: str) -> None:
        """Send our hello to one member's inbox (it joined, or missed ours)."""
        with self._lock:
            self._answer.add(inbox)
        self._poke()

    def _want_hello(self, member_id: str) -> None:
        with self._lock:
            self._want.add(member_id)
        self._poke()

    def _on_hello(self, member: Member, msg: dict[str, Any]) -> None:
        machs = msg.get("machs")
        if not isinstance(machs, list):
            raise ValueError("hello: 'machs' must be a list")
        seen: dict[str, Mirror] = {}
        for d in machs:
            mid, states = str(d["id"]), d["states"]
            if not isinstance(states, list) or not all(isinstance(s, str) for s in states):
                raise ValueError("hello: 'states' must be a list of names")
            schema = d.get("schema") if isinstance(d.get("schema"), dict) else {}
            old = member.machs.get(mid)
            if old is not None and old.state_names() == states:
                mir = old
            else:
                mir = Mirror(mid, member.id, states, schema)
            mir._update(_ticks(d.get("t")))
            seen[mid] = mir
        with self._lock:
            member.machs = seen
            ready = [w for mid, w in self._mach_waiters if mid in seen]
            self._mach_waiters = [(m, w) for m, w in self._mach_waiters if m not in seen]
        for w in ready:
            w.close()


def _ticks(val: Any) -> list[int]:
    if not isinstance(val, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in val
    ):
        raise ValueError("clocks must be a list of non-negative integers")
    return val


def _running() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def join(
    nc: Any,
    topic: str,
    machs: Sequence[Any] = (),
    *,
    member_id: str | None = None,
    prefix: str = DEFAULT_PUBSUB_PREFIX,
    heartbeat: float = 1.0,
    gone_after: float | None = None,
    min_interval: float = 0.05,
) -> PubSub:
    """Join ``topic`` on the connected nats-py client ``nc`` with the local ``machs``."""
    ps = PubSub(
        nc,
        topic,
        machs,
        member_id=member_id,
        prefix=prefix,
        heartbeat=heartbeat,
        gone_after=gone_after,
        min_interval=min_interval,
    )
    return await ps.start()
