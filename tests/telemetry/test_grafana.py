"""am-gen grafana: the dashboard references only metric names a real exporter emits."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families

from am_core import Event, Machine, State
from am_rpc.telemetry.prometheus import PrometheusExporter

ROOT = Path(__file__).resolve().parents[2]


def _emitted() -> set[str]:
    """Sample names scraped from a real exporter tracking a machine that did some work."""
    exp = PrometheusExporter()
    m = Machine({"A": State(remove=["B"]), "B": State(remove=["A"])}, id="a")

    class H:
        def AState(self, e: Event) -> None:
            pass

    m.handlers_bind(H())
    exp.track(m)
    m.add1("A")
    m.add1("B")
    server = exp.serve()
    try:
        with urllib.request.urlopen(server.url, timeout=30) as resp:
            text = resp.read().decode()
    finally:
        server.close()
    return {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}


def _gen(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "am_rpc.telemetry.gen_cli", "grafana", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_dashboard_uses_only_emitted_metrics(tmp_path: Path) -> None:
    out = _gen(tmp_path, "--ids", "a,b-2", "-o", "dash.json")
    assert out.returncode == 0, out.stderr
    dash = json.loads((tmp_path / "dash.json").read_text())
    targets = [t for p in dash["panels"] if p["type"] != "row" for t in p["targets"]]
    referenced = {m for t in targets for m in re.findall(r"\bam_[a-z_]+\b", t["expr"])}
    emitted = _emitted()
    assert referenced, "no metric referenced"
    assert referenced <= emitted, referenced - emitted
    # every metric family the exporter has is on the dashboard
    families = {re.sub(r"_(bucket|sum|count)$", "", s) for s in emitted if s.startswith("am_")}
    used = {re.sub(r"_(bucket|sum|count)$", "", s) for s in referenced}
    assert used == families
    # one row per machine, every query selects its machine
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    assert rows == ["Machine a", "Machine b-2"]
    per_machine = {re.search(r'machine="([^"]+)"', t["expr"]).group(1) for t in targets}  # type: ignore[union-attr]
    assert per_machine == {"a", "b-2"}
    assert all('machine="' in t["expr"] for t in targets)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    assert dash["templating"]["list"][0]["type"] == "datasource"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dash["uid"])


def test_bad_ids_are_refused(tmp_path: Path) -> None:
    out = _gen(tmp_path, "--ids", 'a,b"c')
    assert out.returncode == 2
    assert "'b\"c'" in out.stderr
    out = _gen(tmp_path, "--ids", ",")
    assert out.returncode == 2 and "no machine ids given" in out.stderr
