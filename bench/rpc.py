"""aRPC vs gRPC: the "subscribe -> get a value -> call an operation" loop (spec/examples.md §6).

A worker holds a value (1, 2 or 3) and offers three operations; operation k moves the value to
k % 3 + 1. The client loops N times: wait for the change notification, read the value, call the
operation for that value.

- gRPC (grpcio): a server stream for notifications, a unary getter, a unary operation: 3 calls.
- aRPC (am_rpc): the worker is a machine whose states are the value (Value1/2/3); the operation is a
  mutation (OpK, whose handler moves the value). The notification and the getter come with the clock
  diff in the response, so an iteration is one call.

Both workers run in subprocesses behind the same kind of byte-counting TCP proxy (also
subprocesses), in the same run; the two clients alternate in chunks so that load changes on a
shared machine affect both alike. Prints calls, bytes, µs per iteration and the aRPC/gRPC ratios.
The gRPC stubs are generated at runtime into a temp dir (nothing generated is committed).

    python bench/rpc.py [-n 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from typing import Any

PROTO = """
syntax = "proto3";
package bench;
message Empty {}
message Value { int32 value = 1; }
message Op { int32 op = 1; }
service Worker {
  rpc Subscribe(Empty) returns (stream Empty);
  rpc GetValue(Empty) returns (Value);
  rpc CallOp(Op) returns (Empty);
}
"""


def gen_stubs(d: str) -> None:
    from grpc_tools import protoc

    with open(os.path.join(d, "bench.proto"), "w") as f:
        f.write(PROTO)
    rc = protoc.main(
        ["protoc", f"-I{d}", f"--python_out={d}", f"--grpc_python_out={d}", "bench.proto"]
    )
    if rc != 0:
        raise RuntimeError("protoc failed")


# -- byte-counting proxy ---------------------------------------------------------------------------


def proxy_main(target_port: int, conn: Connection) -> None:
    counts = [0, 0]  # client->server, server->client

    async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        try:
            while data := await r.read(65536):
                counts[i] += len(data)
                w.write(data)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()

    async def on_conn(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        sock = cw.get_extra_info("socket")
        if sock is not None:
            import socket

            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sr, sw = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pipe(cr, sw, 0), pipe(sr, cw, 1))

    async def main() -> None:
        server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        conn.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)
        conn.send(tuple(counts))
        server.close()

    asyncio.run(main())


# -- workers ---------------------------------------------------------------------------------------


def arpc_worker_main(conn: Connection, inline: bool) -> None:
    from am_core import Machine, State
    from am_rpc import serve

    values = ["Value1", "Value2", "Value3"]
    schema = {
        **{v: State(remove=values) for v in values},
        **{f"Op{k}": State() for k in (1, 2, 3)},
        "ErrOnClient": State(require=["Exception"]),
    }

    class Worker:
        def _op(self, e: Any, k: int) -> None:
            m = e.machine()
            m.remove1(f"Op{k}")
            m.add1(f"Value{k % 3 + 1}")

        def Op1State(self, e: Any) -> None:
            self._op(e, 1)

        def Op2State(self, e: Any) -> None:
            self._op(e, 2)

        def Op3State(self, e: Any) -> None:
            self._op(e, 3)

    mach = Machine(schema, id="worker")
    mach.verify_states(["Exception", *values, "Op1", "Op2", "Op3", "ErrOnClient"])
    mach.handlers_bind(Worker())
    mach.add1("Value1")
    # inline=True: the worker's handlers never block, so mutations may run on the I/O loop
    mux = serve(mach, "127.0.0.1:0", inline=True if inline else None)
    conn.send(int(mux.addr.rsplit(":", 1)[1]))
    conn.recv()
    mux.close()


def grpc_worker_main(stub_dir: str, conn: Connection) -> None:
    import threading
    from concurrent import futures

    import grpc

    sys.path.insert(0, stub_dir)
    import bench_pb2  # type: ignore[import-not-found]
    import bench_pb2_grpc  # type: ignore[import-not-found]

    class Worker(bench_pb2_grpc.WorkerServicer):  # type: ignore[misc]
        def __init__(self) -> None:
            self.value = 1
            self.version = 0
            self.cond = threading.Condition()

        def Subscribe(self, request: Any, context: Any) -> Any:
            with self.cond:
                seen = self.version
            while context.is_active():
                with self.cond:
                    self.cond.wait_for(lambda s=seen: self.version != s, timeout=1)
                    if self.version == seen:
                        continue
                    seen = self.version
                yield bench_pb2.Empty()

        def GetValue(self, request: Any, context: Any) -> Any:
            with self.cond:
                return bench_pb2.Value(value=self.value)

        def CallOp(self, request: Any, context: Any) -> Any:
            with self.cond:
                self.value = request.op % 3 + 1
                self.version += 1
                self.cond.notify_all()
            return bench_pb2.Empty()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    bench_pb2_grpc.add_WorkerServicer_to_server(Worker(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    conn.send(port)
    conn.recv()
    server.stop(0)


# -- clients ---------------------------------------------------------------------------------------


class ArpcLoop:
    """The aRPC client: one mutation call per iteration; getter and notification are local."""

    values = ("Value1", "Value2", "Value3")

    def __init__(self, port: int) -> None:
        from am_rpc import connect

        self.client = connect(f"127.0.0.1:{port}", id="bench")

    def run(self, n: int) -> float:
        nm = self.client.mach
        values = list(self.values)
        t0 = time.perf_counter()
        for _ in range(n):
            v = nm.switch(values)  # getter: local, from the synced clock
            k = int(v[-1])
            nm.add1(f"Op{k}")  # processing: one call; its response carries the clock diff
            nxt = values[k % 3]
            if not nm.when1(nxt).wait(5):  # subscription: local waiter on the mirror
                raise RuntimeError(f"no change to {nxt}")
        return time.perf_counter() - t0

    def close(self) -> int:
        assert self.client.peer is not None
        calls = self.client.peer.frames_out + 1  # + the bye
        self.client.close()
        return calls


class GrpcLoop:
    """The gRPC client: a notification stream, a unary getter and a unary operation."""

    def __init__(self, stub_dir: str, port: int) -> None:
        import grpc

        sys.path.insert(0, stub_dir)
        import bench_pb2
        import bench_pb2_grpc

        self.pb = bench_pb2
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = bench_pb2_grpc.WorkerStub(self.channel)
        self.stream = self.stub.Subscribe(bench_pb2.Empty())
        self.value = self.stub.GetValue(bench_pb2.Empty()).value
        self.calls = 2

    def run(self, n: int) -> float:
        pb, stub, stream = self.pb, self.stub, self.stream
        value = self.value
        t0 = time.perf_counter()
        for _ in range(n):
            stub.CallOp(pb.Op(op=value))  # processing
            next(stream)  # subscription: the change notification
            value = stub.GetValue(pb.Empty()).value  # getter
        secs = time.perf_counter() - t0
        self.value = value
        self.calls += 3 * n
        return secs

    def close(self) -> int:
        self.stream.cancel()
        self.channel.close()
        return self.calls


class Setup:
    """A worker and a byte-counting proxy in front of it, both subprocesses."""

    def __init__(self, kind: str, stub_dir: str, inline: bool) -> None:
        ctx = mp.get_context("spawn")
        self.wa, wb = ctx.Pipe()
        if kind == "arpc":
            self.worker = ctx.Process(target=arpc_worker_main, args=(wb, inline), daemon=True)
        else:
            self.worker = ctx.Process(target=grpc_worker_main, args=(stub_dir, wb), daemon=True)
        self.worker.start()
        port = self.wa.recv()
        self.pa, pb = ctx.Pipe()
        self.proxy = ctx.Process(target=proxy_main, args=(port, pb), daemon=True)
        self.proxy.start()
        self.port: int = self.pa.recv()

    def bytes_and_stop(self) -> int:
        time.sleep(0.2)
        self.pa.send("stop")
        up, down = self.pa.recv()
        self.wa.send("stop")
        for p in (self.worker, self.proxy):
            p.join(5)
            if p.is_alive():
                p.kill()
        return int(up + down)


def measure(n: int, stub_dir: str, inline: bool, rounds: int) -> dict[str, tuple[int, int, float]]:
    """Both clients run in alternating chunks, so load changes on a shared box hit both alike."""
    setups = {k: Setup(k, stub_dir, inline) for k in ("grpc", "arpc")}
    loops: dict[str, Any] = {
        "grpc": GrpcLoop(stub_dir, setups["grpc"].port),
        "arpc": ArpcLoop(setups["arpc"].port),
    }
    secs = dict.fromkeys(loops, 0.0)
    chunk = max(1, n // rounds)
    done = 0
    while done < n:
        k = min(chunk, n - done)
        for name, loop in loops.items():
            secs[name] += loop.run(k)
        done += k
    out = {}
    for name, loop in loops.items():
        calls = loop.close()
        out[name] = (calls, setups[name].bytes_and_stop(), secs[name])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=10_000, help="iterations (default 10000)")
    ap.add_argument("--rounds", type=int, default=10, help="alternating chunks (default 10)")
    ap.add_argument(
        "--inline",
        action="store_true",
        help="run the aRPC worker's (non-blocking) handlers on its I/O loop (ServerOpts.inline)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="am-bench-grpc-") as d:
        gen_stubs(d)
        results = measure(args.n, d, args.inline, args.rounds)
    mode = "on the I/O loop" if args.inline else "in a worker thread"
    print(
        f"subscribe -> get -> process, {args.n:,} iterations, {args.rounds} alternating rounds "
        f"(workers and proxies in subprocesses; aRPC mutations {mode})"
    )
    print(f"{'':6} {'calls':>8} {'bytes':>11} {'µs/iter':>9}")
    for k, (calls, nbytes, secs) in results.items():
        print(f"{k:6} {calls:>8,} {nbytes:>11,} {secs / args.n * 1e6:>9.1f}")
    (gc, gb, gs), (ac, ab, as_) = results["grpc"], results["arpc"]
    print(
        f"aRPC/gRPC: calls {ac / gc:.2f}x, bytes {ab / gb:.2f}x, time {as_ / gs:.2f}x "
        f"(Go reference: 10,003 vs 30,006 calls, 1.15 MB vs 3.4 MB)"
    )


if __name__ == "__main__":
    main()
