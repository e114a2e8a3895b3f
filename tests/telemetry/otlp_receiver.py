"""A tiny OTLP/HTTP receiver for tests: decodes /v1/traces and /v1/logs protobuf bodies with
opentelemetry-proto and appends one JSON line per span / log record to a file.

Run: ``python otlp_receiver.py OUT.jsonl``; prints the port it listens on.
"""

from __future__ import annotations

import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

OUT = sys.argv[1]


def _value(v: AnyValue) -> object:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def _attrs(kvs: object) -> dict[str, object]:
    return {kv.key: _value(kv.value) for kv in kvs}  # type: ignore[attr-defined]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        rows: list[dict[str, object]] = []
        if self.path == "/v1/traces":
            req = ExportTraceServiceRequest.FromString(body)
            for rs in req.resource_spans:
                res = _attrs(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for sp in ss.spans:
                        rows.append(
                            {
                                "kind": "span",
                                "service": res.get("service.name"),
                                "name": sp.name,
                                "trace_id": sp.trace_id.hex(),
                                "span_id": sp.span_id.hex(),
                                "parent": sp.parent_span_id.hex(),
                                "attributes": _attrs(sp.attributes),
                                "links": [ln.span_id.hex() for ln in sp.links],
                            }
                        )
        elif self.path == "/v1/logs":
            req2 = ExportLogsServiceRequest.FromString(body)
            for rl in req2.resource_logs:
                for sl in rl.scope_logs:
                    for lr in sl.log_records:
                        rows.append(
                            {
                                "kind": "log",
                                "body": _value(lr.body),
                                "event_name": lr.event_name,
                                "trace_id": lr.trace_id.hex(),
                                "span_id": lr.span_id.hex(),
                                "attributes": _attrs(lr.attributes),
                            }
                        )
        else:
            self.send_response(404)
            self.end_headers()
            return
        with open(OUT, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
