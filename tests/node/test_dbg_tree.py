"""Every node streams to a real am-dbg (headless, recording); the machines form one tree."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

from am_rpc.node import Client

from .conftest import wait_until


def test_supervisor_workers_and_client_stream_as_one_tree(make_sup, tmp_path, monkeypatch):
    rec = tmp_path / "pool.amdbg"
    cmd = [sys.executable, "-m", "am_dbg", "--headless", "--listen-addr", "127.0.0.1:0"]
    dbg = subprocess.Popen(
        [*cmd, "--record", str(rec)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert dbg.stderr is not None
        m = re.fullmatch(r"listening on (127\.0\.0\.1:\d+)\n", dbg.stderr.readline())
        assert m
        monkeypatch.setenv("AM_DBG_ADDR", m.group(1))  # the supervisor's workers inherit it
        sup = make_sup(min=2)
        wait_until(lambda: sup.ready_count() == 2, what="2 workers")
        with Client([sup.addr], id="cli-1", parent_id=sup.id) as c:
            assert c.submit("tests.node.jobs:burn", 3).result(30) == 5
        sup.close()
        wait_until(lambda: rec.exists() and rec.stat().st_size > 0, what="a recording")
    finally:
        dbg.send_signal(signal.SIGTERM)
        dbg.wait(30)
    out = subprocess.run(
        [sys.executable, "-m", "am_dbg", "--print-summary", "-i", str(rec)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    machines = {m["id"]: m for m in json.loads(out.stdout)["machines"]}
    assert machines["sup-1"]["parent_id"] in (None, "")
    workers = [i for i in machines if i.startswith("sup-1-w")]
    assert len(workers) >= 2
    for i in [*workers, "cli-1"]:
        assert machines[i]["parent_id"] == "sup-1", i
    assert "WorkRequested" in machines[workers[0]]["states"]
    assert machines["cli-1"]["transitions"] > 0
    for i in ["sup-1", *workers, "cli-1"]:
        assert machines[i]["disconnected"], i  # each node flushed and said goodbye on close
