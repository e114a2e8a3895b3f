"""PubSub over NATS with a real nats-server: convergence, when* on mirrors, gone members."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest

from am_core import Machine, State, StateMissingError
from am_rpc.nats import PubSub, join
from am_rpc.nats.local_server import LocalNatsServer

MEMBER = Path(__file__).with_name("member_proc.py")
SCHEMA = {"Foo": State(), "Bar": State(require=["Foo"]), "Baz": State(multi=True)}


async def _until(cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_members_see_each_others_clocks_converge_and_when_resolves(
    nats_server: LocalNatsServer,
) -> None:
    n = 5
    ncs = [await nats.connect(nats_server.url) for _ in range(n)]
    machs = [Machine(SCHEMA, id=f"m{i}") for i in range(n)]
    members: list[PubSub] = []
    for i in range(n):
        members.append(await join(ncs[i], "room", [machs[i]], member_id=f"p{i}", heartbeat=0.5))
    # everyone lists everyone else (the early joiners learn of the late ones and vice versa)
    for i, ps in enumerate(members):
        await _until(lambda ps=ps: len(ps.mirrors()) == n - 1)
        assert set(ps.mirrors()) == {f"m{j}" for j in range(n) if j != i}
        assert set(ps.members()) == {f"p{j}" for j in range(n) if j != i}
        assert ps.mach.is1("Joined") and ps.mach.tick("MemberJoined") >= 1
    # when* on a remote mirror, pending until the owner's change arrives
    mir = members[0].mirror("m3")
    assert mir.state_names() == machs[3].state_names()
    assert mir.schema()["Bar"] == {"require": ["Foo"]}
    w_both = mir.when(["Foo", "Bar"])
    w_ticks = members[1].mirror("m3").when_ticks("Baz", 3)
    assert not w_both.done()
    machs[3].add(["Foo", "Bar"])
    for _ in range(3):
        machs[3].add1("Baz")
    await asyncio.wait_for(w_both, 30)
    await asyncio.wait_for(w_ticks, 30)
    await _until(lambda: mir.time() == machs[3].time())
    assert mir.is_(["Foo", "Bar"]) and sorted(mir.active_states()) == sorted(
        machs[3].active_states()
    )
    w_not = mir.when_not1("Foo")
    machs[3].remove1("Foo")
    await asyncio.wait_for(w_not, 30)
    # many quick changes everywhere: every member converges on every owner's last clocks
    for k in range(40):
        for m in machs:
            m.add1("Baz") if k % 2 else m.toggle1("Foo")
    for ps in members:
        await _until(
            lambda ps=ps: all(
                list(ps.mirror(m.id).time()) == list(m.time())
                for m in machs
                if m.id in ps.mirrors()
            )
        )
    with pytest.raises(StateMissingError, match="Nope"):
        mir.when1("Nope")
    with pytest.raises(KeyError, match="m99"):
        members[0].mirror("m99")
    # a member that leaves says bye: marked gone at once, its waiters closed
    w_gone = members[1].mirror("m4").when1("Bar")
    await members[4].close()
    await _until(lambda: members[1].members()["p4"].gone)
    assert w_gone.done() and "m4" not in members[1].mirrors()
    for ps in members[:4]:
        await ps.close()
    for nc in ncs:
        await nc.close()


async def test_a_sigkilled_member_is_marked_gone_within_the_heartbeat_bound(
    nats_server: LocalNatsServer,
) -> None:
    nc = await nats.connect(nats_server.url)
    watcher = await join(nc, "room", [], member_id="watcher", heartbeat=0.3)
    proc = subprocess.Popen(
        [sys.executable, str(MEMBER), nats_server.url, "room", "victim"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline() == "joined\n"
        w = watcher.when_mach("victim-m")
        await asyncio.wait_for(w, 30)
        mir = watcher.mirror("victim-m")
        proc.stdin.write("+Foo\n")
        proc.stdin.flush()
        await asyncio.wait_for(mir.when1("Foo"), 30)
        pending = mir.when1("Bar")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        member = watcher.members()["victim"]
        await _until(lambda: member.gone)
        # no bye was sent: it was the silence. The bound is gone_after (3 heartbeats) after the
        # last message, plus one check interval; the slack is for a loaded CI box.
        lag = member.gone_at - member.last_seen
        assert watcher.gone_after <= lag <= watcher.gone_after + watcher.heartbeat + 5.0
        assert pending.done() and mir.gone
        assert watcher.mach.tick("MemberGone") == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await watcher.close()
        await nc.close()


async def test_malformed_pubsub_messages_are_counted_and_ignored(
    nats_server: LocalNatsServer,
) -> None:
    nc = await nats.connect(nats_server.url)
    m = Machine(SCHEMA, id="good")
    ps = await join(nc, "room", [], member_id="a", heartbeat=0.5)
    other_nc = await nats.connect(nats_server.url)
    other = await join(other_nc, "room", [m], member_id="b", heartbeat=0.5)
    await _until(lambda: "good" in ps.mirrors())
    for junk in (
        b"{",
        b"[]",
        b'{"id": 1}',
        b'{"id": "x", "k": "what"}',
        b'{"id": "y", "k": "hello", "machs": 3}',
        b'{"id": "b", "k": "clock", "m": "good", "t": ["a"]}',
    ):
        await other_nc.publish("amps.room.junk", junk)
    await other_nc.flush()
    await _until(lambda: ps.bad_messages == 6)
    m.add1("Foo")
    await asyncio.wait_for(ps.mirror("good").when1("Foo"), 30)
    await other.close()
    await ps.close()
    await nc.close()
    await other_nc.close()
