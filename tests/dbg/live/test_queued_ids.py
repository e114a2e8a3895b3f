"""Queued-mutation ids are `<lastTxId>-<n>` and never start with "-" (no `mach://m/-0`)."""

from __future__ import annotations

from am_core import Machine, State
from am_dbg.model.urls import MachUrl
from am_dbg.server import IngestServer
from am_rpc.dbg import connect

from .conftest import in_thread, wait_for


async def test_the_first_queued_message_has_a_real_prefix(server: IngestServer) -> None:
    def run() -> None:
        m = Machine({"A": State(), "B": State()}, id="q")
        t = connect(m, f"127.0.0.1:{server.port}")
        m.add1("A")
        m.add1("B")
        assert t.close()

    await in_thread(run)
    s = server.session
    await wait_for(lambda: "q" in s.machines and len(s.machines["q"]) >= 4, "4 messages")
    h = s.machines["q"]
    infos = [h.info(i) for i in range(len(h))]
    queued = [i.id for i in infos if i.is_queued]
    done = [i.id for i in infos if not i.is_queued]
    assert queued == ["init-0", f"{done[0]}-0"]
    url = MachUrl(mach_id="q", tx_id=queued[0])
    assert str(url) == "mach://q/init-0" and MachUrl.parse(str(url)).tx_id == "init-0"
