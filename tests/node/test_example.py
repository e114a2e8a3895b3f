"""examples/process_pool.py (also in ``am-dbg --demo``): survives killed workers, streams one tree."""

from __future__ import annotations

from am_dbg.model.session import Session
from am_dbg.server.ingest import IngestServer
from tests.examples.test_examples import run_example


async def test_process_pool_example_survives_chaos_and_streams_one_tree() -> None:
    session = Session()
    srv = IngestServer(session, host="127.0.0.1", port=0)
    await srv.start()
    try:
        code, out, err = await run_example("process_pool", f"127.0.0.1:{srv.port}", duration=5.0)
        await srv.settle()
    finally:
        await srv.close()
    assert code == 0, err[-2000:]
    assert out.startswith("process_pool: jobs done "), out
    assert "failed 0;" in out, out  # every job resolved, killed workers or not
    machines = session.machines
    assert "pool-sup" in machines, (sorted(machines), err[-3000:])
    assert machines["pool-sup"].parent_id == ""
    for mid in ("pool-sup-w1", "pool-sup-w2", "pool-sup-w3", "pool-client-1", "pool-client-2"):
        assert machines[mid].parent_id == "pool-sup", mid
        assert len(machines[mid]) > 0, mid
    assert not machines["pool-sup"].connected  # flushed and said goodbye
