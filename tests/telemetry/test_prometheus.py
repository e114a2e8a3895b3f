"""Prometheus: /metrics scraped over real HTTP and parsed with prometheus_client.parser; the values
equal the machine's clocks and counters (docs/telemetry.md#prometheus)."""

from __future__ import annotations

import urllib.request

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families

from am_core import Event, Machine, State
from am_rpc.telemetry import metric_names as n
from am_rpc.telemetry.prometheus import PrometheusExporter


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _machine(mid: str) -> Machine:
    m = Machine(
        {
            "A": State(remove=["B"]),
            "B": State(remove=["A"]),
            "C": State(multi=True),
            "D": State(require=["C"]),
            "Boom": State(),
        },
        id=mid,
    )

    class H:
        def AState(self, e: Event) -> None:
            pass

        def BoomState(self, e: Event) -> None:
            raise RuntimeError("boom")

    m.handlers_bind(H())
    return m


def test_metrics_over_http_equal_the_machine() -> None:
    exp = PrometheusExporter()
    m = _machine("prom1")
    exp.track(m)
    server = exp.serve()
    try:
        for _ in range(10):
            m.add1("A")
            m.add1("B")
        m.add1("C")
        m.add1("C")  # multi: activated again
        m.remove1("C")
        m.add1("D")  # canceled: C missing
        m.set(["A", "C"])
        m.add1("D")
        m.add1("Boom")  # the handler raises: Exception
        m.remove1("Exception")
        assert m.is1("Exception") is False
        got = _scrape(server.url)
    finally:
        server.close()

    def v(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted({"machine": "prom1", **labels}.items())))]

    for s in m.state_names():
        assert v(n.STATE_TICK, state=s) == m.tick(s), s
        assert v(n.STATE_ACTIVE, state=s) == (1 if m.is1(s) else 0), s
    assert v(n.STATE_ACTIVATIONS, state="A") == 11
    assert v(n.STATE_ACTIVATIONS, state="B") == 10
    assert v(n.STATE_ACTIVATIONS, state="C") == 3
    assert v(n.STATE_ACTIVATIONS, state="D") == 1
    assert v(n.STATE_ACTIVATIONS, state="Exception") == 1
    assert v(n.EXCEPTIONS) == 1
    # Boom's final handler raised after Boom was applied: its clock counts the activation
    # (0 -> 1 -> 2), though the transition was canceled
    assert v(n.STATE_ACTIVATIONS, state="Boom") == 1
    assert m.tick("Boom") == 2
    # executed adds: 20 toggles, C, C, D, and the Exception added for the failed handler;
    # canceled: D without C, and Boom (its handler raised)
    assert v(n.TRANSITIONS, type="add", result="executed") == 24
    assert v(n.TRANSITIONS, type="add", result="canceled") == 2
    assert v(n.TRANSITIONS, type="remove", result="executed") == 2
    assert v(n.TRANSITIONS, type="set", result="executed") == 1
    assert v(n.QUEUE_TICK) == m.queue_tick()
    assert v(n.MACHINE_TICK) == m.machine_tick()
    assert v(n.QUEUE_LENGTH) == 0
    # handler calls: 11 AState + 1 BoomState, all observed
    assert v(n.HANDLER_DURATION + "_count") == 12
    assert v(n.HANDLER_DURATION + "_bucket", le="+Inf") == 12
    # exactly the declared names (the Grafana generator relies on them)
    assert {name for name, _ in got if name.startswith("am_")} == n.ALL_SAMPLES


def test_cardinality_bound() -> None:
    exp = PrometheusExporter(max_machines=1, max_states=2)
    m1, m2, m3 = _machine("c1"), _machine("c2"), _machine("c3")
    for m in (m1, m2, m3):
        exp.track(m)
    for m in (m1, m2, m3):
        m.add1("A")
        m.add1("C")
    server = exp.serve()
    try:
        got = _scrape(server.url)
    finally:
        server.close()
    machines = {dict(lb)["machine"] for (_name, lb) in got if dict(lb).get("machine")}
    assert machines == {"c1", n.OTHER}
    states = {dict(lb).get("state") for (name, lb) in got if name == n.STATE_ACTIVATIONS}
    assert states == {"A", "B", n.OTHER}
    key = (n.STATE_ACTIVATIONS, (("machine", n.OTHER), ("state", "A")))
    assert got[key] == 2  # c2 and c3 summed
    key = (n.STATE_ACTIVATIONS, (("machine", n.OTHER), ("state", n.OTHER)))
    assert got[key] == 2  # C of c2 and c3
    assert not any(name == n.STATE_TICK and dict(lb)["machine"] == n.OTHER for name, lb in got)
    with pytest.raises(ValueError, match="machine c1 is already tracked"):
        exp.track(m1)


def test_activations_count_from_when_tracking_began() -> None:
    m = _machine("late")
    m.add1("A")
    m.add1("C")
    m.add1("C")
    exp = PrometheusExporter()
    exp.track(m)
    m.add1("B")
    m.add1("A")
    m.add1("C")  # multi, still active: a re-activation
    server = exp.serve()
    try:
        got = _scrape(server.url)
    finally:
        server.close()
    acts = {
        dict(lb)["state"]: val for (name, lb), val in got.items() if name == n.STATE_ACTIVATIONS
    }
    assert (acts["A"], acts["B"], acts["C"], acts["D"]) == (1, 1, 1, 0)
    assert got[(n.STATE_TICK, (("machine", "late"), ("state", "C")))] == m.tick("C") == 5
