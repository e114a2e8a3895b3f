"""aRPC's own machines carry the rpc tags the debugger's `rpc` filter hides (spec/debugger.md §4.3)."""

from __future__ import annotations

import threading

from am_core import Machine, State
from am_dbg.server import IngestServer
from am_dbg.states import DbgStates as S
from am_dbg.ui.app import DbgApp
from am_rpc import Client, Mux
from am_rpc.dbg import connect
from am_rpc.server import Server
from am_rpc.states import STATE_SOURCE_SCHEMA
from tests.dbg.ui.helpers import make_app

from .conftest import wait_for


def _source() -> Machine:
    schema = {"Start": State(), **STATE_SOURCE_SCHEMA}
    m = Machine(schema, id="src")
    m.verify_states(m.state_names())
    return m


def test_rpc_machines_are_tagged_where_they_are_created() -> None:
    src = _source()
    assert "rpc-mux" in Mux(src, name="x").mach.tags
    assert "rpc-server" in Server(src, name="x-1").mach.tags
    assert "rpc-client" in Client("127.0.0.1:1", id="x").client_mach.tags


async def test_rpc_filter_hides_rc_rm_rs_machines_streamed_live(server: IngestServer) -> None:
    """The machines travel over the real telemetry link; `--filter-rpc-machs` hides them."""
    addr = f"127.0.0.1:{server.port}"
    src = _source()
    machs = [src, Mux(src, name="x").mach, Client("127.0.0.1:1", id="x").client_mach]
    tracers = []

    def run() -> None:
        for m in machs:
            tracers.append(connect(m, addr))
            m.add1("Start") if "Start" in m.state_names() else None

    t = threading.Thread(target=run)
    t.start()
    t.join()
    session = server.session
    await wait_for(lambda: {"src", "rm-x", "rc-x"} <= set(session.machines), "3 machines")
    app: DbgApp = make_app(session, "--filter-rpc-machs")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await wait_for(lambda: [m for m, _ in app.client_list.order] == ["src"], "only src listed")
        # the toolbar's `rpc` toggle shows them again, and hides them once more
        app.mach.add1(S.ToggleTool, {"tool": "rpc"})
        await wait_for(lambda: len(app.client_list.order) == 3, "all 3 listed")
        app.mach.add1(S.ToggleTool, {"tool": "rpc"})
        await wait_for(lambda: len(app.client_list.order) == 1, "rpc machines hidden again")
    for tr in tracers:
        tr.close()
