"""Prometheus metrics for machines, with ``prometheus-client`` (extra ``[prometheus]``).

The tracer only bumps plain integers on the machine's thread; a registry collector turns them
(and the machine's clocks, read at scrape time) into metric families. Activations need no hook:
every activation, a multi state's re-activation too, moves a state's tick to a new odd value, so
the activations since tracking began are the odd ticks passed since then. Machine and state are
labels; ``max_machines`` / ``max_states`` bound their cardinality: machines beyond the bound are
counted under ``machine="_other"``, states beyond it under ``state="_other"`` (docs/telemetry.md#prometheus).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from am_core import MutationType, Tracer

from . import metric_names as n

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from am_core import Machine, Transition

#: seconds; handlers are inline and short, so the buckets start at 10 µs
DEFAULT_BUCKETS = (
    0.00001,
    0.00005,
    0.0001,
    0.0005,
    0.001,
    0.005,
    0.01,
    0.05,
    0.1,
    0.5,
    1.0,
    5.0,
)
_TYPES = [str(t) for t in (MutationType.ADD, MutationType.REMOVE, MutationType.SET)]


class _Hist:
    """A histogram in plain lists: ``observe`` is a bisect and two additions."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, v: float) -> None:
        self.counts[bisect_left(self.bounds, v)] += 1
        self.sum += v

    def merge_into(self, acc: _Hist) -> None:
        for i, c in enumerate(self.counts):
            acc.counts[i] += c
        acc.sum += self.sum

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        total = 0
        for b, c in zip(self.bounds, self.counts, strict=False):
            total += c
            out.append((repr(float(b)), total))
        out.append(("+Inf", total + self.counts[-1]))
        return out


class MachineMetrics(Tracer):
    """One machine's counters; bound to the machine as a tracer by ``PrometheusExporter.track``."""

    def __init__(self, machine: Machine, label: str, max_states: int, buckets: tuple[float, ...]):
        self.machine = machine
        self.label = label
        self.max_states = max_states
        # [type][0 executed, 1 canceled]
        self.transitions = [[0, 0] for _ in range(len(_TYPES) + 1)]
        self.handler_hist = _Hist(buckets)
        self.disposed = False
        self._h0 = 0.0
        # each state's tick when tracking began (states added later: 0)
        self._tick0 = dict(zip(machine.state_names(), machine.time(), strict=True))

    def tracer_id(self) -> str:
        return f"prometheus-{self.machine.id}"

    def activations(self) -> dict[str, int]:
        """Activations per state since tracking began, by the clocks."""
        mach = self.machine
        t0 = self._tick0
        return {
            s: (t + 1) // 2 - (t0.get(s, 0) + 1) // 2
            for s, t in zip(mach.state_names(), mach.time(), strict=True)
        }

    def handler_start(self, tx: Transition, binding_id: str, handler: str) -> None:
        self._h0 = perf_counter()

    def handler_end(self, tx: Transition, binding_id: str, handler: str) -> None:
        d = perf_counter() - self._h0
        h = self.handler_hist
        h.counts[bisect_left(h.bounds, d)] += 1
        h.sum += d

    def transition_end(self, tx: Transition) -> None:
        mut = tx.mutation
        if not mut.is_check:
            self.transitions[mut.type][0 if tx.is_accepted else 1] += 1

    def machine_dispose(self, machine_id: str) -> None:
        self.disposed = True


@dataclass
class MetricsServer:
    """A running ``/metrics`` endpoint (prometheus-client's WSGI server on a thread)."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def url(self) -> str:
        host = str(self.server.server_address[0])
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class PrometheusExporter:
    """A registry collector over the machines it tracks."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        max_machines: int = 100,
        max_states: int = 100,
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.max_machines = max_machines
        self.max_states = max_states
        self.buckets = tuple(sorted(buckets))
        self._lock = threading.Lock()
        self._machines: list[MachineMetrics] = []
        self.registry.register(self)

    def track(self, machine: Machine) -> MachineMetrics:
        """Start counting ``machine``'s transitions; returns the bound tracer."""
        with self._lock:
            labels = {m.label for m in self._machines if not m.disposed}
            if machine.id in labels:
                raise ValueError(f"machine {machine.id} is already tracked")
            own = len(labels - {n.OTHER})
            label = machine.id if own < self.max_machines else n.OTHER
            mm = MachineMetrics(machine, label, self.max_states, self.buckets)
            self._machines.append(mm)
        machine.tracer_bind(mm)
        return mm

    def untrack(self, machine: Machine) -> None:
        with self._lock:
            for mm in self._machines:
                if mm.machine is machine:
                    self._machines.remove(mm)
                    machine.tracer_detach(mm)
                    return
        raise ValueError(f"machine {machine.id} is not tracked")

    def serve(self, port: int = 0, addr: str = "127.0.0.1") -> MetricsServer:
        """Serve this exporter's registry at ``http://addr:port/metrics`` (port 0: any free)."""
        server, thread = start_http_server(port, addr=addr, registry=self.registry)
        return MetricsServer(server, thread)

    # ------------------------------------------------------------------ collector

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            machines = [m for m in self._machines if not m.disposed]
        M, S = n.MACHINE, n.STATE
        tx = CounterMetricFamily(
            n.TRANSITIONS.removesuffix("_total"),
            "Transitions by mutation type and result.",
            labels=[M, n.TYPE, n.RESULT],
        )
        acts = CounterMetricFamily(
            n.STATE_ACTIVATIONS.removesuffix("_total"),
            "State activations since tracking began (a multi state's re-activation counts).",
            labels=[M, S],
        )
        exc = CounterMetricFamily(
            n.EXCEPTIONS.removesuffix("_total"),
            "Activations of the Exception state.",
            labels=[M],
        )
        active = GaugeMetricFamily(n.STATE_ACTIVE, "1 when the state is active.", labels=[M, S])
        tick = GaugeMetricFamily(n.STATE_TICK, "The state's clock (tick).", labels=[M, S])
        qlen = GaugeMetricFamily(n.QUEUE_LENGTH, "Mutations waiting in the queue.", labels=[M])
        qtick = GaugeMetricFamily(n.QUEUE_TICK, "The machine's queue tick.", labels=[M])
        mtick = GaugeMetricFamily(n.MACHINE_TICK, "The machine tick (imports).", labels=[M])
        hist = HistogramMetricFamily(n.HANDLER_DURATION, "Duration of handler calls.", labels=[M])
        # sums over machines sharing a label (the "_other" bucket)
        tx_sum: dict[tuple[str, str, str], int] = {}
        act_sum: dict[tuple[str, str], int] = {}
        exc_sum: dict[str, int] = {}
        h_sum: dict[str, _Hist] = {}
        for mm in machines:
            lb = mm.label
            for ti, tname in enumerate(_TYPES):
                for ri, rname in enumerate(("executed", "canceled")):
                    key = (lb, tname, rname)
                    tx_sum[key] = tx_sum.get(key, 0) + mm.transitions[ti][ri]
            acts_of = mm.activations()
            for i, (s, v) in enumerate(acts_of.items()):
                key2 = (lb, s if i < mm.max_states else n.OTHER)
                act_sum[key2] = act_sum.get(key2, 0) + v
            exc_sum[lb] = exc_sum.get(lb, 0) + acts_of.get("Exception", 0)
            mm.handler_hist.merge_into(h_sum.setdefault(lb, _Hist(self.buckets)))
            if lb == n.OTHER:
                continue  # gauges of folded machines would be meaningless
            mach = mm.machine
            t = mach.time()
            for i, s in enumerate(mach.state_names()[: mm.max_states]):
                active.add_metric([lb, s], t[i] % 2)
                tick.add_metric([lb, s], t[i])
            qlen.add_metric([lb], mach.queue_len())
            qtick.add_metric([lb], mach.queue_tick())
            mtick.add_metric([lb], mach.machine_tick())
        for k3, v in tx_sum.items():
            tx.add_metric(list(k3), v)
        for k2, v in act_sum.items():
            acts.add_metric(list(k2), v)
        for lb, v in exc_sum.items():
            exc.add_metric([lb], v)
        for lb, hh in h_sum.items():
            hist.add_metric([lb], hh.buckets(), hh.sum)
        yield from (tx, acts, exc, active, tick, qlen, qtick, mtick, hist)


_default: PrometheusExporter | None = None


def track(machine: Machine, serve_port: int | None = None) -> PrometheusExporter:
    """One call: track ``machine`` on a process-wide exporter; optionally serve ``/metrics``."""
    global _default
    if _default is None:
        _default = PrometheusExporter()
        if serve_port is not None:
            _default.serve(serve_port)
    _default.track(machine)
    return _default
