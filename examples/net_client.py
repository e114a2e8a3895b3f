"""A network client that stays connected: Connecting / Connected / Disconnected, with reconnects.

An echo server (a real TCP socket on 127.0.0.1, driven by the ``echo-server`` machine) drops the
connection now and then and sometimes goes offline for a while. The ``net-client`` machine uses
the connection states of ``am_core.states.ConnectedStates``: ``Disconnected`` is an Auto state, so
whenever the client is in none of the other three it comes back on its own, and its handler
schedules the next attempt with an exponential backoff. A child machine ``net-app`` mirrors the
connection through pipes (``am_core.pipes.bind_connected``), as an application layer would.

What it shows in am-dbg:
- canceled by a relation: ``Send`` requires ``Connected``, so pings sent while offline are
  canceled; canceled by negotiation: ``SendEnter`` refuses oversized messages;
- errors: a refused connection becomes ``ErrNetwork`` + ``Exception`` with its stack trace;
- auto transitions (``Disconnected``), multi states (``Send``, ``Received``, ``Echoed``),
  queued mutations, pipes between machines, parent/child machines and tags, ``Healthcheck``.

Run: ``python examples/net_client.py`` (``-v`` prints the log; ``AM_DBG_ADDR=1`` streams to am-dbg).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from kit import Example, run

from am_core import Event, ExceptionHandler, LogLevel, Machine, State, healthcheck, pipes
from am_core.states import BasicStates, ConnectedStates

MAX_MSG = 48  # bytes; SendEnter refuses more


class ClientStates(BasicStates, ConnectedStates):
    """The connection group (exactly one of four) plus sending and receiving."""

    Send = State(multi=True, require=["Connected"])
    Received = State(multi=True, require=["Connected"])


class AppStates(BasicStates):
    """What the application layer cares about, piped from the client."""

    Online = State(remove=["Offline", "Waiting"])
    Waiting = State(remove=["Online", "Offline"])
    Offline = State(remove=["Online", "Waiting"])


class ServerStates(BasicStates):
    Listening = State(require=["Start"], remove=["Offline"])
    Offline = State(remove=["Listening"])
    ClientConnected = State(require=["Listening"])
    Echoed = State(multi=True, require=["ClientConnected"])
    Dropped = State(multi=True)


class Client(ExceptionHandler):
    def __init__(self, ex: Example, mach: Machine, port: int) -> None:
        self.ex = ex
        self.mach = mach
        self.port = port
        self.backoff = 0.0
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.sent = self.received = 0

    def DisconnectedState(self, e: Event) -> None:
        if not self.mach.is1("Start"):
            return
        delay = self.backoff
        self.backoff = min(max(0.05, self.backoff * 2), 0.8)
        self.mach.go_after(self.mach.new_state_ctx("Disconnected"), delay, self.reconnect)

    def reconnect(self) -> None:
        self.mach.add1("Connecting", {"addr": f"127.0.0.1:{self.port}"})

    def ConnectingState(self, e: Event) -> None:
        ctx = self.mach.new_state_ctx("Connecting")

        async def connect() -> None:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.port), 0.5
                )
            except OSError:
                self.mach.panic_to_err_state("ErrNetwork", {"addr": f"127.0.0.1:{self.port}"})
                self.mach.add1("Disconnected")
                return
            self.reader, self.writer = reader, writer
            self.mach.add1("Connected", {"addr": f"127.0.0.1:{self.port}"})

        self.mach.fork(ctx, e, connect)

    async def read(self) -> None:
        reader = self.reader
        if reader is None:
            return
        while True:
            try:
                line = await reader.readline()
            except OSError:
                self.mach.panic_to_err_state("ErrNetwork", {"addr": f"127.0.0.1:{self.port}"})
                line = b""
            if not line:
                self.mach.add1("Disconnected", {"err": "connection closed by peer"})
                return
            self.received += 1
            self.mach.add1("Received", {"msg": line.decode().strip()})

    def ConnectedState(self, e: Event) -> None:
        self.backoff = 0.0
        self.mach.fork(self.mach.new_state_ctx("Connected"), e, self.read)

    def ConnectedEnd(self, e: Event) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    def SendEnter(self, e: Event) -> bool:
        return len(e.args.get("msg", "")) <= MAX_MSG  # negotiation: too large, refused

    def SendState(self, e: Event) -> None:
        if self.writer is not None:
            self.writer.write(e.args["msg"].encode() + b"\n")
            self.sent += 1

    def ExceptionState(self, e: Event) -> None:
        super().ExceptionState(e)  # "[error] ..." with the stack trace
        self.mach.remove1("Exception")  # a network error is an event here: Disconnected retries


class EchoServer(ExceptionHandler):
    """Echoes lines; drops a connection every few messages and sometimes goes offline."""

    def __init__(self, ex: Example, mach: Machine) -> None:
        self.ex = ex
        self.mach = mach
        self.server: asyncio.Server | None = None
        self.port = 0
        self.conns: set[asyncio.StreamWriter] = set()

    async def listen(self) -> None:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        self.mach.add1("Listening", {"port": self.port})

    async def go_offline(self, seconds: float) -> None:
        self.mach.add1("Offline")
        if self.server is not None:
            self.server.close()
            for w in list(self.conns):
                w.close()
            await self.server.wait_closed()
        await self.ex.sleep(seconds)
        await self.listen()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.conns.add(writer)
        host, port = writer.get_extra_info("peername")[:2]
        self.mach.add1("ClientConnected", {"addr": f"{host}:{port}"})
        budget = self.ex.rng.randint(8, 40)  # messages until this connection is dropped
        try:
            while budget > 0:
                line = await reader.readline()
                if not line:
                    break
                writer.write(line)
                self.mach.add1("Echoed")
                budget -= 1
            if budget == 0:
                self.mach.add1("Dropped", {"err": "fault injected: connection reset"})
        except (ConnectionError, OSError):
            pass
        finally:
            self.conns.discard(writer)
            writer.close()
            self.mach.remove1("ClientConnected")


async def main(ex: Example) -> str:
    loop = asyncio.get_running_loop()
    srv_mach = Machine(ServerStates.schema(), id="echo-server", tags=["server"], loop=loop)
    srv_mach.verify_states(ServerStates.names())
    ex.track(srv_mach, LogLevel.OPS)
    server = EchoServer(ex, srv_mach)
    srv_mach.handlers_bind(server, id="echo")
    srv_mach.add1("Start")
    await server.listen()

    mach = Machine(ClientStates.schema(), id="net-client", tags=["client"], loop=loop)
    mach.verify_states(ClientStates.names())
    ex.track(mach, LogLevel.DECISIONS, ("msg",))
    client = Client(ex, mach, server.port)
    mach.handlers_bind(client, id="client")

    app = Machine(AppStates.schema(), id="net-app", parent=mach, tags=["app"], loop=loop)
    app.verify_states(AppStates.names())
    ex.track(app, LogLevel.CHANGES)
    pipes.bind_connected(
        mach, app, disconnected="Offline", connecting="Waiting", connected="Online"
    )
    app.add1("Start")

    mach.add1("Start")  # Disconnected (auto) follows, and its handler connects
    healthcheck(mach, interval=1.0)
    n = 0
    offline: asyncio.Task[None] | None = None
    while await ex.sleep(0.08):
        n += 1
        msg = f"ping {n}" if n % 13 else f"ping {n} " + "x" * MAX_MSG  # every 13th is too large
        mach.add1("Send", {"msg": msg})
        if n % 60 == 15 and offline is None:  # the server goes away now and then
            offline = asyncio.create_task(server.go_offline(0.8))
        if offline is not None and offline.done():
            offline = None
    if offline is not None:
        await offline
    mach.add1("Disconnecting")
    mach.remove1("Start")
    if server.server is not None:
        server.server.close()
        with contextlib.suppress(Exception):
            await server.server.wait_closed()
    srv_mach.remove1("Start")
    return f"net_client: {client.sent} sent, {client.received} echoed back, {n} tried"


if __name__ == "__main__":
    sys.exit(run(main, __doc__))
