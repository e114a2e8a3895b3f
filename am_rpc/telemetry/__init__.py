"""Production telemetry: Prometheus metrics (extra ``[prometheus]``), OpenTelemetry traces and logs
(extra ``[otel]``) and the Grafana dashboard generator (docs/telemetry.md).

Import the submodule you use (``am_rpc.telemetry.prometheus``, ``am_rpc.telemetry.otel``,
``am_rpc.telemetry.grafana``); this package imports neither SDK.
"""
