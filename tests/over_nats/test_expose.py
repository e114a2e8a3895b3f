"""Machines over NATS with a real nats-server: Go's ``pkg/integrations`` JSON messages.

The requests are built from a JSON Schema of Go's messages (tests/data/go_integrations.schema.json,
written from Go's integrations.go: the same field names and types as its generated
docs/jsonschema) and the responses validated against it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema
import nats
import pytest

from am_core import Machine, Result, State
from am_rpc.nats import NatsRequestError, add, expose, get, remove, set_, when
from am_rpc.nats.local_server import LocalNatsServer

DEFS = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "go_integrations.schema.json").read_text()
)
SCHEMA = {"Foo": State(), "Bar": State(require=["Foo"]), "Baz": State(remove=["Foo"])}
_NAMES = {
    "mutation_req": "MutationReq",
    "mutation_resp": "MutationResp",
    "waiting_req": "WaitingReq",
    "waiting_resp": "WaitingResp",
    "getter_req": "GetterReq",
    "getter_resp": "GetterResp",
}


def _schema(name: str, *, resp: bool = True) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{_NAMES[name]}", "$defs": DEFS["$defs"]}


def _build(name: str, kind: str, fill: dict[str, Any], *, literal_kind: bool) -> dict[str, Any]:
    """A request from the schema: every given property must be one the schema defines."""
    root = DEFS["$defs"][_NAMES[name]]
    assert set(fill) <= set(root["properties"]), set(fill) - set(root["properties"])
    assert root["required"] == ["kind"] and root["properties"]["kind"] == {"const": kind}
    req: dict[str, Any] = {"kind": kind, **fill}
    jsonschema.validate(req, _schema(name))
    if literal_kind:  # the {"Value": ...} form Go's generated jsonschema describes for Kind
        req["kind"] = {"Value": kind}
    return req


@pytest.fixture
async def exposed(nats_server: LocalNatsServer) -> Any:
    mach = Machine(SCHEMA, id="m1")
    srv_nc = await nats.connect(nats_server.url)
    cli_nc = await nats.connect(nats_server.url)
    exp = await expose(mach, srv_nc, "mytopic")
    await _until_answered(cli_nc)
    yield mach, exp, cli_nc
    await exp.close()
    await cli_nc.close()
    await srv_nc.close()


async def _until_answered(nc: Any, timeout: float = 20.0) -> None:
    """Wait until the exposed machine answers this client (a loaded box can deliver the first
    request before the server has the subscription: NATS then says "no responders")."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        try:
            await get(nc, "mytopic", "m1", time=["Foo"])
            return
        except nats.errors.NoRespondersError:
            if loop.time() > end:
                raise
            await asyncio.sleep(0.05)


async def _ask(nc: Any, subject: str, req: Any) -> dict[str, Any]:
    data = req if isinstance(req, bytes) else json.dumps(req).encode()
    msg = await nc.request(subject, data, timeout=10)
    return json.loads(msg.data)


@pytest.mark.parametrize("literal_kind", [False, True])
async def test_requests_built_from_the_jsonschema_are_answered_in_shape(
    exposed: Any, literal_kind: bool
) -> None:
    mach, _, nc = exposed
    req = _build(
        "mutation_req",
        "am_req_mutation",
        {"add": ["Foo", "Bar"], "args": {"a": 1}},
        literal_kind=literal_kind,
    )
    resp = await _ask(nc, "mytopic.m1", req)
    jsonschema.validate(resp, _schema("mutation_resp", resp=True))
    assert resp == {"kind": "am_resp_mutation", "result": Result.EXECUTED}
    assert mach.is_(["Foo", "Bar"])

    req = _build(
        "getter_req",
        "am_req_getter",
        {
            "time": ["Foo", "Bar"],
            "time_sum": ["Foo", "Bar"],
            "clocks": ["Foo"],
            "tags": True,
            "export": True,
            "id": True,
            "parent_id": True,
        },
        literal_kind=literal_kind,
    )
    resp = await _ask(nc, "mytopic.m1", req)
    assert "error" not in resp, resp
    jsonschema.validate(resp, _schema("getter_resp", resp=True))
    export = resp["export"]
    assert resp["kind"] == "am_resp_getter"
    assert resp["id"] == "m1" and resp["time"] == [1, 1] and resp["time_sum"] == 2
    assert resp["clocks"] == {"Foo": 1}
    assert export["id"] == "m1" and export["state_names"] == mach.state_names()
    assert export["time"] == list(mach.time())

    req = _build("mutation_req", "am_req_mutation", {"remove": ["Foo"]}, literal_kind=literal_kind)
    resp = await _ask(nc, "mytopic.m1", req)
    assert resp == {"kind": "am_resp_mutation", "result": Result.EXECUTED}
    assert not mach.is1("Foo") and not mach.is1("Bar")

    # waiting: answered once the condition holds
    req = _build("waiting_req", "am_req_waiting", {"states": ["Foo"]}, literal_kind=literal_kind)
    pending = asyncio.ensure_future(_ask(nc, "mytopic.m1", req))
    await asyncio.sleep(0)
    assert not pending.done()
    mach.add1("Foo")
    resp = await pending
    jsonschema.validate(resp, _schema("waiting_resp", resp=True))
    assert resp == {"kind": "am_resp_waiting", "mach_id": "m1", "states": ["Foo"]}

    assert mach.tick("Foo") == 3
    req = _build(
        "waiting_req", "am_req_waiting", {"states": ["Foo"], "time": [5]}, literal_kind=literal_kind
    )
    pending = asyncio.ensure_future(_ask(nc, "mytopic.m1", req))
    mach.remove1("Foo")  # tick 4
    await _ask(nc, "mytopic.m1", {"kind": "am_req_getter", "id": True})  # a round trip later
    assert not pending.done()
    mach.add1("Foo")  # tick 5
    resp = await pending
    jsonschema.validate(resp, _schema("waiting_resp", resp=True))
    assert resp == {"kind": "am_resp_waiting", "mach_id": "m1", "time": [5]}

    req = _build(
        "waiting_req", "am_req_waiting", {"states_not": ["Foo"]}, literal_kind=literal_kind
    )
    pending = asyncio.ensure_future(_ask(nc, "mytopic.m1", req))
    await _ask(nc, "mytopic.m1", {"kind": "am_req_getter", "id": True})
    assert not pending.done()
    mach.remove1("Foo")
    resp = await pending
    assert resp == {"kind": "am_resp_waiting", "mach_id": "m1", "states_not": ["Foo"]}


async def test_helpers_add_remove_set_when_get(exposed: Any) -> None:
    mach, _, nc = exposed
    assert await add(nc, "mytopic", "m1", ["Foo"]) == Result.EXECUTED
    assert await add(nc, "mytopic", "m1", ["Bar"], {"x": 1}) == Result.EXECUTED
    assert (await get(nc, "mytopic", "m1", clocks=["Foo", "Bar"]))["clocks"] == {"Foo": 1, "Bar": 1}
    assert await remove(nc, "mytopic", "m1", ["Foo"]) == Result.EXECUTED
    assert mach.active_states() == []
    assert await set_(nc, "mytopic", "m1", ["Baz"]) == Result.EXECUTED
    assert mach.active_states() == ["Baz"]
    # Bar requires Foo: canceled, not an error
    assert await add(nc, "mytopic", "m1", ["Bar"]) == Result.CANCELED
    waiting = asyncio.ensure_future(when(nc, "mytopic", "m1", states_not=["Baz"]))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    mach.add1("Foo")  # Baz removes Foo... Foo removes nothing; Baz removes Foo on add of Baz
    mach.remove1("Baz")
    assert (await waiting)["states_not"] == ["Baz"]
    # the topic itself reaches the machine too
    assert await add(nc, "mytopic", None, ["Foo"]) == Result.EXECUTED


async def test_unknown_states_and_malformed_json_get_errors(exposed: Any) -> None:
    mach, exp, nc = exposed
    with pytest.raises(NatsRequestError, match="Nope"):
        await add(nc, "mytopic", "m1", ["Foo", "Nope"])
    resp = await _ask(nc, "mytopic.m1", {"kind": "am_req_mutation", "add": ["Nope"]})
    assert resp["kind"] == "am_resp_mutation" and resp["result"] == Result.CANCELED
    assert "Nope" in resp["error"]
    with pytest.raises(NatsRequestError, match="Nope"):
        await get(nc, "mytopic", "m1", time=["Nope"])
    with pytest.raises(NatsRequestError, match="Nope"):
        await when(nc, "mytopic", "m1", ["Nope"])
    for bad, why in [
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"kind": "am_req_teleport"}', "unknown request kind"),
        (b'{"kind": "am_req_mutation"}', "state names missing"),
        (b'{"kind": "am_req_mutation", "add": ["Foo"], "remove": ["Bar"]}', "not both"),
        (b'{"kind": "am_req_mutation", "add": "Foo"}', "list of state names"),
        (b'{"kind": "am_req_waiting", "states": ["Foo"], "time": [1, 2]}', "length mismatch"),
        (b'{"kind": "am_req_waiting", "states": ["Foo"], "time": [-1]}', "non-negative"),
        (b"\xff\xfe", "malformed JSON"),
    ]:
        resp = await _ask(nc, "mytopic.m1", bad)
        assert why in resp["error"], (bad, resp)
    # nothing of that reached the machine, and it still answers
    assert mach.active_states() == [] and not mach.is1("Exception")
    assert await add(nc, "mytopic", "m1", ["Foo"]) == Result.EXECUTED
    assert exp.stats.errors == 13
    # a response published on the topic (Go's async waiting replies) is not answered
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish("mytopic.m1", b'{"kind": "am_resp_waiting", "mach_id": "x"}', reply=inbox)
    await nc.flush()
    with pytest.raises(nats.errors.TimeoutError):
        await sub.next_msg(timeout=0.5)


async def test_queue_group_balances_and_the_own_subject_targets(
    nats_server: LocalNatsServer,
) -> None:
    ncs = [await nats.connect(nats_server.url) for _ in range(4)]
    machs = [Machine(SCHEMA, id=f"w{i}") for i in range(3)]
    exps = [await expose(m, nc, "pool", queue="workers") for m, nc in zip(machs, ncs, strict=False)]
    cli = ncs[3]
    n = 60
    ids = [(await get(cli, "pool", None, id=True))["id"] for _ in range(n)]
    served = [e.stats.requests for e in exps]
    assert sum(served) == n  # each request answered once, by one member of the group
    assert len(set(ids)) >= 2  # spread over the group
    assert sorted(ids.count(m.id) for m in machs) == sorted(served)
    assert await add(cli, "pool", "w2", ["Foo"]) == Result.EXECUTED
    assert machs[2].is1("Foo") and not machs[0].is1("Foo") and not machs[1].is1("Foo")
    for e in exps:
        await e.close()
    for nc in ncs:
        await nc.close()
