"""Grafana dashboard JSON for the Prometheus exporter's metrics: one row of panels per machine id.

Every query is built from the names in ``metric_names``, so the dashboard references only what the
exporter emits (docs/telemetry.md#grafana). Import-ready: the Prometheus data source is a dashboard
variable chosen on import.
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import metric_names as n

_DS = {"type": "prometheus", "uid": "${datasource}"}
_ID_RE = re.compile(r"^[^\"\\{}]+$")
_UID_BAD = re.compile(r"[^A-Za-z0-9_-]")


def _target(expr: str, legend: str) -> dict[str, Any]:
    return {"datasource": _DS, "expr": expr, "legendFormat": legend, "refId": "A"}


def _panel(
    pid: int,
    title: str,
    kind: str,
    x: int,
    y: int,
    w: int,
    targets: list[dict[str, Any]],
    unit: str = "short",
) -> dict[str, Any]:
    for i, t in enumerate(targets):
        t["refId"] = chr(ord("A") + i)
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": _DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": targets,
    }


def _machine_panels(mid: str, first_id: int, y: int) -> list[dict[str, Any]]:
    sel = f'{n.MACHINE}="{mid}"'
    rate = "$__rate_interval"
    p = first_id
    row: dict[str, Any] = {
        "id": p,
        "type": "row",
        "title": f"Machine {mid}",
        "collapsed": False,
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
        "panels": [],
    }
    y += 1
    hq = f"sum by (le) (rate({n.HANDLER_DURATION}_bucket{{{sel}}}[{rate}]))"
    panels = [
        row,
        _panel(
            p + 1,
            "Transitions / s",
            "timeseries",
            0,
            y,
            12,
            [
                _target(
                    f"sum by ({n.TYPE}, {n.RESULT}) (rate({n.TRANSITIONS}{{{sel}}}[{rate}]))",
                    "{{type}} {{result}}",
                )
            ],
            "ops",
        ),
        _panel(
            p + 2,
            "State activations / s",
            "timeseries",
            12,
            y,
            12,
            [
                _target(
                    f"sum by ({n.STATE}) (rate({n.STATE_ACTIVATIONS}{{{sel}}}[{rate}]))",
                    "{{state}}",
                )
            ],
            "ops",
        ),
        _panel(
            p + 3,
            "Active states",
            "state-timeline",
            0,
            y + 8,
            12,
            [_target(f"{n.STATE_ACTIVE}{{{sel}}}", "{{state}}")],
        ),
        _panel(
            p + 4,
            "State ticks",
            "timeseries",
            12,
            y + 8,
            12,
            [_target(f"{n.STATE_TICK}{{{sel}}}", "{{state}}")],
        ),
        _panel(
            p + 5,
            "Queue",
            "timeseries",
            0,
            y + 16,
            8,
            [
                _target(f"{n.QUEUE_LENGTH}{{{sel}}}", "queue length"),
                _target(f"rate({n.QUEUE_TICK}{{{sel}}}[{rate}])", "queue ticks / s"),
                _target(f"{n.MACHINE_TICK}{{{sel}}}", "machine tick"),
            ],
        ),
        _panel(
            p + 6,
            "Exceptions",
            "timeseries",
            8,
            y + 16,
            8,
            [_target(f"increase({n.EXCEPTIONS}{{{sel}}}[{rate}])", "exceptions")],
        ),
        _panel(
            p + 7,
            "Handler duration",
            "timeseries",
            16,
            y + 16,
            8,
            [
                _target(f"histogram_quantile(0.5, {hq})", "handler p50"),
                _target(f"histogram_quantile(0.95, {hq})", "handler p95"),
                _target(
                    f"rate({n.HANDLER_DURATION}_sum{{{sel}}}[{rate}]) / "
                    f"rate({n.HANDLER_DURATION}_count{{{sel}}}[{rate}])",
                    "handler mean",
                ),
            ],
            "s",
        ),
    ]
    return panels


def dashboard(
    ids: list[str], title: str = "asyncmachine", uid: str | None = None
) -> dict[str, Any]:
    """The dashboard for machines ``ids`` (the exporter's ``machine`` label values)."""
    if not ids:
        raise ValueError("no machine ids given")
    bad = [i for i in ids if not _ID_RE.match(i)]
    if bad:
        raise ValueError(
            f"machine ids cannot be used in a label matcher: {', '.join(map(repr, bad))}"
        )
    panels: list[dict[str, Any]] = []
    y = 0
    for k, mid in enumerate(ids):
        panels.extend(_machine_panels(mid, k * 10 + 1, y))
        y += 25
    return {
        "uid": uid or _UID_BAD.sub("-", "am-" + "-".join(ids))[:40],
        "title": title,
        "tags": ["asyncmachine"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def dashboard_json(ids: list[str], title: str = "asyncmachine") -> str:
    return json.dumps(dashboard(ids, title), indent=2) + "\n"
