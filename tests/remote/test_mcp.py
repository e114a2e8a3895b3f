"""`am-dbg --ui-mcp`: every tool, called through the MCP SDK's own client, against the Go fixture
and the demo recording; answers checked against `--print-summary` and the model.

In-process: the real `DbgApp` (Pilot's headless driver) with the real MCP server, the client
connected in memory. Out of process: the `am-dbg` command over streamable HTTP and over stdio.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from am_dbg.config import parse_args
from am_dbg.model.session import Session
from am_dbg.recordings import load
from am_dbg.remote.hub import Hub
from am_dbg.remote.mcp_server import build_server
from am_dbg.states import DbgStates as S
from am_dbg.summary import summarize
from am_dbg.ui.app import DbgApp
from tests.waiting import await_until

_AM_DBG = (sys.executable, "-m", "am_dbg")
ROOT = Path(__file__).resolve().parents[2]
GO = str(ROOT / "tests/data/am-dbg-sim.gob.br")
DEMO = str(ROOT / "recordings/demo.amdbg")
TOOLS = {
    "list_machines",
    "read_schema",
    "find_transitions",
    "read_transition",
    "states_at",
    "list_viewers",
    "viewer_status",
    "select_machine",
    "move_cursor",
    "set_filter",
    "set_auto_filter",
    "screen_snapshot",
}


def _session(path: str) -> Session:
    s = Session()
    s.load(load(path).machines)
    return s


@asynccontextmanager
async def _served(path: str) -> AsyncIterator[tuple[Client, DbgApp, Session]]:
    session = _session(path)
    cfg, _ = parse_args(["--test-mode", "-l", "-1"])
    app = DbgApp(cfg, session=session)
    async with app.run_test(size=(160, 50)):
        await await_until(lambda: app.viewer.selected, what="the first machine selected")
        hub = Hub(session)
        hub.attach("main", app)
        async with Client(build_server(hub), raise_exceptions=False) as client:
            yield client, app, session


async def _call(client: Client, tool: str, **args: Any) -> Any:
    res = await client.call_tool(tool, args)
    assert not res.is_error, f"{tool}({args}): {res.content[0].text}"  # type: ignore[union-attr]
    if res.structured_content is not None:
        sc = res.structured_content
        return sc.get("result", sc) if set(sc) == {"result"} else sc
    return res.content[0].text  # type: ignore[union-attr]


async def _error(client: Client, tool: str, **args: Any) -> str:
    res = await client.call_tool(tool, args)
    assert res.is_error, f"{tool}({args}) should fail, got {res.structured_content}"
    return res.content[0].text  # type: ignore[union-attr]


async def _all_machines(client: Client) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = await _call(client, "list_machines", offset=offset, limit=40)
        rows += page["machines"]
        if "next_offset" not in page:
            assert len(rows) == page["total"]
            return rows
        offset = page["next_offset"]


@pytest.mark.parametrize("path", [GO, DEMO], ids=["go-fixture", "demo"])
async def test_read_tools_match_summary_and_model(path: str) -> None:
    summary, _ = summarize(path)
    async with _served(path) as (client, _app, session):
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        rows = await _all_machines(client)
        by_id = {r["id"]: r for r in rows}
        assert sorted(by_id) == [m["id"] for m in summary["machines"]]
        for m in summary["machines"]:
            assert by_id[m["id"]]["transitions"] == m["transitions"], m["id"]
            if m["queued"] is not None:
                assert by_id[m["id"]]["queued"] == m["queued"]
            schema = await _call(client, "read_schema", machine=m["id"])
            assert list(schema["states"]) == m["states"]
        # the busiest machine: search, read, travel
        mid = max(session.machines, key=lambda k: len(session.machines[k]))
        h = session.machines[mid]
        names = h.state_names
        canceled = [i for i, x in enumerate(h.infos()) if not x.accepted and not x.is_queued]
        got = await _call(client, "find_transitions", machine=mid, result="canceled", limit=200)
        assert got["total"] == len(canceled)
        assert [t["index"] for t in got["transitions"]] == canceled[:200]
        state = next(n for n in names if any(names.index(n) in x.called for x in h.infos()))
        si = names.index(state)
        touching = [
            i
            for i, x in enumerate(h.infos())
            if si in x.called or si in x.touched or si in x.added or si in x.removed
        ]
        got = await _call(client, "find_transitions", machine=mid, state=state, limit=5)
        assert got["total"] == len(touching)
        assert [t["index"] for t in got["transitions"]] == touching[:5]
        assert got.get("left_off", 0) == max(0, len(touching) - 5)
        page2 = await _call(client, "find_transitions", machine=mid, state=state, limit=5, offset=5)
        assert [t["index"] for t in page2["transitions"]] == touching[5:10]
        newest = await _call(
            client, "find_transitions", machine=mid, state=state, limit=1, newest_first=True
        )
        assert newest["transitions"][0]["index"] == touching[-1]
        # time: a window around one transition finds it (and what shares its time)
        i = len(h) // 2
        t = await _call(client, "read_transition", machine=mid, index=i)
        window = await _call(
            client, "find_transitions", machine=mid, since=t["time"], until=t["time"], limit=200
        )
        exact = [k for k, x in enumerate(h.infos()) if x.time_ns == h.info(i).time_ns]
        assert [x["index"] for x in window["transitions"]] == exact
        # text: a word of a log line of transition i
        msg = h.tx(i)
        assert t["id"] == h.info(i).id and len(t["steps"]) == len(msg.steps)
        entries = h.log_entries(i)
        assert [e["text"] for e in t["log"]] == [e.text for e in entries[:100]]
        word = max((w for e in entries for w in e.text.split()), key=len, default=t["id"])
        found = await _call(client, "find_transitions", machine=mid, text=word, limit=200)
        assert i in [x["index"] for x in found["transitions"]] or found["total"] > 200
        for x in found["transitions"]:
            k = x["index"]
            hay = [h.info(k).id, *(names[c] for c in h.info(k).called)]
            hay += [e.text for e in h.log_entries(k)]
            assert any(word.lower() in s.lower() for s in hay)
        by_id_tx = await _call(client, "read_transition", machine=mid, tx_id=t["id"])
        assert by_id_tx["index"] == i
        short = await _call(client, "read_transition", machine=mid, index=i, max_log_lines=1)
        assert len(short["log"]) == min(1, len(entries))
        assert short.get("log_left_off", 0) == max(0, len(entries) - 1)
        # states at a moment: the clocks of the model, active = odd
        at = await _call(client, "states_at", machine=mid, index=i)
        clocks = h.clocks(i)
        assert at["clocks"] == dict(zip(names, clocks, strict=False))
        assert at["active"] == [n for n, c in zip(names, clocks, strict=False) if c % 2]
        assert t["active_after"] == at["active"]
        by_time = await _call(client, "states_at", machine=mid, time=t["time"])
        assert by_time["index"] == h.tx_at_human_time(h.info(i).time_ns)
        newest_at = await _call(client, "states_at", machine=mid)
        assert newest_at["index"] == len(h) - 1


async def test_viewer_tools_mutate_the_debuggers_machine() -> None:
    async with _served(DEMO) as (client, app, session):
        viewers = await _call(client, "list_viewers")
        assert [v["viewer"] for v in viewers["viewers"]] == ["main"]
        mid = "echo-server"
        h = session.machines[mid]
        st = await _call(client, "select_machine", machine=mid)
        assert st["machine"] == mid == app.viewer.selected
        assert app.mach.is1(S.ClientSelected)
        st = await _call(client, "move_cursor", index=10)
        assert app.viewer.cursor.tx == 11 == st["cursor"]
        assert st["at"]["id"] == h.info(10).id
        st = await _call(client, "move_cursor", to="next", amount=3)
        assert app.viewer.cursor.tx == st["cursor"] > 11
        st = await _call(client, "move_cursor", to="prev")
        assert st["moved"] and app.viewer.cursor.tx < 14
        st = await _call(client, "move_cursor", tx_id=h.info(40).id)
        assert app.viewer.cursor.tx == 41
        st = await _call(client, "move_cursor", to="state_next", state="ClientConnected")
        ci = h.state_names.index("ClientConnected")
        assert st["cursor"] > 41
        x = h.info(st["cursor"] - 1)
        assert ci in x.called or ci in x.added or ci in x.removed or ci in x.touched
        st = await _call(client, "move_cursor", to="first")
        assert app.viewer.cursor.tx == 0
        # filters: hiding queued messages is the FilterQueuedTx state, and the cursor snaps
        await _call(client, "move_cursor", index=len(h) // 2)
        st = await _call(client, "set_filter", name="queued", hidden=True)
        assert app.mach.is1(S.FilterQueuedTx) and "queued" in st["hidden"]
        assert st["visible"] == sum(
            1 for i in range(len(h)) if app.viewer.current.visible.is_visible(i)
        )  # type: ignore[union-attr]
        assert st["visible"] < len(h)
        assert st["at"] is None or st["at"]["result"] != "queued"
        st = await _call(client, "set_filter", name="queued", hidden=False)
        assert not app.mach.is1(S.FilterQueuedTx) and st["visible"] == len(h)
        st = await _call(client, "set_auto_filter", mode="hide-all")
        assert app.mach.is1(S.FilterAutoTx) and st["auto_filter"] == "hide-all"
        st = await _call(client, "set_auto_filter", mode="hide-canceled")
        assert app.mach.is1(S.FilterAutoCanceledTx)
        # the screen shows what the cursor points at
        await _call(client, "move_cursor", index=40)
        text = await _call(client, "screen_snapshot")
        assert f"mach://{mid}/{h.info(40).id}" in text
        assert "echo-server" in text and "Listening" in text
        assert len(text.splitlines()) == 50
        st = await _call(client, "viewer_status")
        assert st["cursor"] == 41 and st["address"] == f"mach://{mid}/{h.info(40).id}"
        short = await _call(client, "screen_snapshot", max_lines=5)
        assert len(short.splitlines()) == 6  # five and the "... more lines" note


async def test_malformed_arguments_are_tool_errors() -> None:
    async with _served(GO) as (client, app, session):
        mid = next(iter(session.machines))
        bad: list[tuple[str, dict[str, Any], str]] = [
            ("read_schema", {"machine": "nope"}, "no machine 'nope'"),
            ("read_schema", {"machine": 5}, "machine"),
            ("read_schema", {}, "machine"),
            ("find_transitions", {"machine": mid, "state": "Nope"}, "no state 'Nope'"),
            ("find_transitions", {"machine": mid, "result": "maybe"}, "result"),
            ("find_transitions", {"machine": mid, "since": "yesterday"}, "ISO 8601"),
            ("find_transitions", {"machine": mid, "limit": 0}, "limit"),
            ("find_transitions", {"machine": mid, "offset": -1}, "offset"),
            ("find_transitions", {"machine": mid, "text": ""}, "text"),
            ("read_transition", {"machine": mid}, "index"),
            ("read_transition", {"machine": mid, "index": 10**6}, "out of range"),
            ("read_transition", {"machine": mid, "tx_id": "zzz"}, "no transition 'zzz'"),
            ("read_transition", {"machine": mid, "index": "x"}, "index"),
            ("states_at", {"machine": mid, "time": [1]}, "time"),
            ("viewer_status", {"viewer": "other"}, "no viewer 'other'"),
            ("select_machine", {"machine": "nope"}, "no machine 'nope'"),
            ("move_cursor", {}, "exactly one of"),
            ("move_cursor", {"index": 1, "to": "next"}, "exactly one of"),
            ("move_cursor", {"to": "sideways"}, "to"),
            ("move_cursor", {"to": "next", "amount": 0}, "amount"),
            ("move_cursor", {"to": "state_next"}, "needs state"),
            ("move_cursor", {"index": 10**6}, "out of range"),
            ("set_filter", {"name": "bogus", "hidden": True}, "no filter 'bogus'"),
            ("set_filter", {"name": "canceled", "hidden": "very"}, "hidden"),
            ("set_auto_filter", {"mode": "some"}, "mode"),
            ("screen_snapshot", {"max_lines": 0}, "max_lines"),
            ("no_such_tool", {}, "no_such_tool"),
        ]
        before = app.viewer.cursor
        for tool, args, says in bad:
            text = await _error(client, tool, **args)
            assert says in text, (tool, args, text)
        assert app.viewer.cursor == before  # nothing moved
        assert (await _call(client, "list_machines"))["total"] == len(session.machines)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _summary_cli(path: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "am_dbg", "-i", path, "--print-summary"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


async def test_cli_streamable_http() -> None:
    """`am-dbg --ui-mcp 127.0.0.1:0 --headless`: the printed URL answers; SIGTERM ends it."""
    summary = _summary_cli(DEMO)
    proc = subprocess.Popen(
        [*_AM_DBG, "--ui-mcp", "127.0.0.1:0", "--headless", "-l", "-1", "-i", DEMO],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stderr is not None
        url = ""
        lines: list[str] = []
        while not url:
            line = proc.stderr.readline()
            assert line, f"am-dbg ended: {''.join(lines)}"
            lines.append(line)
            if line.startswith("mcp on "):
                url = line.split()[-1]
        async with Client(url) as client:
            rows = await _all_machines(client)
            assert sorted(r["id"] for r in rows) == [m["id"] for m in summary["machines"]]
            assert {r["id"]: r["transitions"] for r in rows} == {
                m["id"]: m["transitions"] for m in summary["machines"]
            }
            st = await _call(client, "select_machine", machine="pipeline")
            assert st["machine"] == "pipeline"
            text = await _call(client, "screen_snapshot")
            assert "mach://pipeline" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0, rest
    assert "Clients: " in rest


async def test_cli_live_machine() -> None:
    """A machine streaming to `am-dbg --headless --ui-mcp`: the tools see it as it runs, and the
    viewer in tail mode follows it."""
    import asyncio

    from am_core import Machine, State
    from am_rpc.dbg.sender import connect as dbg_connect

    env = _env()
    env.pop("AM_DBG_TOKEN", None)
    proc = subprocess.Popen(
        [*_AM_DBG, "--ui-mcp", "127.0.0.1:0", "--headless", "-l", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    src = Machine({"Start": State(), "Tick": State(multi=True, require=["Start"])}, id="live-mcp")
    tracer = None
    try:
        assert proc.stderr is not None
        url, ingest, lines = "", "", []
        while not (url and ingest):
            line = proc.stderr.readline()
            assert line, f"am-dbg ended: {''.join(lines)}"
            lines.append(line)
            if line.startswith("mcp on "):
                url = line.split()[-1]
            elif line.startswith("listening on "):
                ingest = line.split()[-1]
        tracer = dbg_connect(src, ingest)
        src.add1("Start")
        async with Client(url) as client:

            async def newest(n: int) -> dict[str, Any]:
                deadline = asyncio.get_running_loop().time() + 30
                while True:
                    rows = (await _call(client, "list_machines"))["machines"]
                    if rows and rows[0]["transitions"] >= n:
                        return rows[0]  # type: ignore[no-any-return]
                    assert asyncio.get_running_loop().time() < deadline, rows
                    await asyncio.sleep(0.05)

            row = await newest(1)
            assert row["id"] == "live-mcp" and row["connected"]
            for _ in range(3):
                src.add1("Tick")
            row = await newest(4)
            got = await _call(
                client, "find_transitions", machine="live-mcp", state="Tick", result="accepted"
            )
            assert got["total"] == 3  # and as many queued-mutation messages, found apart
            queued = await _call(
                client, "find_transitions", machine="live-mcp", state="Tick", result="queued"
            )
            assert queued["total"] == row["queued"] - 1  # the other one queued Start
            last = await _call(client, "read_transition", machine="live-mcp", index=-1)
            assert last["called"] == ["Tick"] and "Tick" in last["active_after"]
            at = await _call(client, "states_at", machine="live-mcp")
            assert at["clocks"]["Tick"] == src.tick("Tick") > 0
            st = await _call(client, "select_machine", machine="live-mcp")
            st = await _call(client, "move_cursor", to="newest")
            total = row["transitions"] + row["queued"]  # the cursor counts every message
            assert st["tail"] and st["cursor"] == total
            src.add1("Tick")  # one queued-mutation message and one transition more
            deadline = asyncio.get_running_loop().time() + 30
            while (await _call(client, "viewer_status"))["cursor"] != total + 2:
                assert asyncio.get_running_loop().time() < deadline, "the viewer did not follow"
                await asyncio.sleep(0.05)
    finally:
        if tracer is not None:
            tracer.close()
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0, rest


async def test_cli_stdio() -> None:
    """`am-dbg --ui-mcp stdio`: how an MCP host launches it; ends when the client goes."""
    summary = _summary_cli(GO)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "am_dbg", "--ui-mcp", "stdio", "-l", "-1", "-i", GO],
        env=_env(),
        cwd=str(ROOT),
    )
    async with Client(params) as client:
        rows = await _all_machines(client)
        assert sorted(r["id"] for r in rows) == [m["id"] for m in summary["machines"]]
        st = await _call(client, "viewer_status")
        assert st["viewer"] == "main" and st["machine"] in {r["id"] for r in rows}


def test_non_loopback_needs_insecure() -> None:
    from am_dbg.config import ConfigError

    with pytest.raises(ConfigError, match=r"--ui-mcp 0\.0\.0\.0:6833: not a loopback"):
        parse_args(["--ui-mcp", "0.0.0.0:6833"])
    cfg, _ = parse_args(["--ui-mcp", "0.0.0.0:6833", "--insecure"])
    assert cfg.ui_mcp == "0.0.0.0:6833"
    assert parse_args(["--ui-mcp"])[0].ui_mcp == "127.0.0.1:6833"
    assert parse_args(["--ui-mcp", "stdio"])[0].ui_mcp == "stdio"
