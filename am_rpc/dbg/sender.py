"""Stream a machine to am-dbg: ``am_rpc.dbg.connect(mach, addr)`` / ``connect_env(mach)``.

`DbgTracer` is an `am_core` tracer. On the machine's thread it only turns each finished
transition (and each queued mutation) into one packed msgpack map and drops it into a bounded
`Outbox`; it never waits for the network, so telemetry cannot slow or block the machine beyond
that packing. A `DbgLink` on an asyncio loop (the caller's, or one shared daemon thread) delivers
the outbox: schema first on every connection (with this instance's session token), then batched
tx frames; it reconnects with backoff and re-sends whatever the debugger did not confirm.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import threading
import time
import traceback
from typing import Any

from am_rpc.codec import pack
from am_rpc.dbg.addr import DEFAULT_DBG_ADDR, split_addr
from am_rpc.dbg.link import DbgLink, LinkStats
from am_rpc.dbg.outbox import Outbox
from am_rpc.dbg.protocol import SchemaMsg, StateDef
from am_rpc.typed_wire import typed_args_of

__all__ = ["DEFAULT_DBG_ADDR", "MAX_TX_BYTES", "DbgTracer", "connect", "connect_env"]

_EVAL = 3
_EXCEPTION = "Exception"
_ARG_EXCEPTION = "_am__Exception"  # am_core.ARG_EXCEPTION
_CHANGES = 2  # am_core.LogLevel.CHANGES
MAX_TX_BYTES = 1 << 20
"""A tx message packed larger than this loses its details (steps, logs, args, trace) and says so:
one giant log line must not produce a frame the debugger refuses on every reconnect."""


def _shrunk(msg: dict[str, Any], size: int) -> bytes:
    small = {k: v for k, v in msg.items() if k not in ("steps", "log", "pre", "args", "trace")}
    small["pre"] = [[1, f"[dbg:too-big] {size} bytes: steps, log lines and args left out"]]
    return pack(small)


def add_error_details(msg: dict[str, Any], exc: Any, tx: Any) -> None:
    """The error of an Exception tx, always visible in am-dbg (docs/protocol.md "Errors").

    Its text goes into the args (``err``), and, unless the machine logged it already (a handler
    class inheriting ``ExceptionHandler``), an ``[error:<type>] <called> (<err>)`` line with the
    traceback goes into the log: a plain handler class would otherwise show a bare ``+Exception``.
    """
    err = getattr(exc, "err", None)
    if err is None:
        return
    msg.setdefault("args", {})["err"] = str(err)
    if any(str(text).startswith("[error") for _, text in msg.get("log", ())):
        return
    panic = getattr(exc, "panic", None)
    trace = getattr(exc, "err_trace", "")
    if not trace and err.__traceback__ is not None:  # raised (a handler), not just created
        trace = "".join(traceback.format_exception(err))
    if panic is not None:
        ptx = getattr(panic, "transition", None)
        typ = ("add", "remove", "set", "eval")[ptx.mutation.type] if ptx is not None else "add"
        line = f"[error:{typ}] {' '.join(panic.called_states)} ({err})"
    else:
        line = f"[error] {err}"
    if trace:
        line += "\n" + trace.rstrip("\n")
    msg.setdefault("log", []).append([_CHANGES, line])


def _names(val: Any) -> tuple[str, ...]:
    return tuple(val() if callable(val) else val or ())


class DbgTracer:
    """The telemetry tracer of one machine (see the module docstring). Create it with `connect`."""

    def __init__(
        self,
        mach: Any,
        addr: str = DEFAULT_DBG_ADDR,
        *,
        outbox_limit: int = 10_000,
        queued: bool | None = True,
        checks: bool | None = None,
        stack_traces: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        secret: str | None = None,
    ) -> None:
        self.mach = mach
        self.addr = addr
        self.token = secrets.token_hex(8)
        self.queued = queued
        self.checks = checks
        self.stack_traces = stack_traces
        self.outbox = Outbox(outbox_limit)
        self._lock = threading.Lock()  # guards the per-tx bookkeeping below
        self._schema = self._build_schema()
        self._idx = {n: i for i, n in enumerate(self._schema.states_index)}
        # queued mutations before the first transition are numbered after this (Go: "semlogger"
        # once pipes were seeded); never an empty prefix, which made ids like "-0"
        self._last_tx_id = "init"
        self._last_clocks: list[int] = list(mach.time())
        self._n_queued = 0
        self._closed = False
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self._seed_pipes()
        self.link: Any
        if addr.startswith("nats://"):  # telemetry over NATS (the [nats] extra)
            from am_rpc.nats.dbg_link import NatsDbgLink

            self.link = NatsDbgLink(
                addr, lambda: self._schema, outbox=self.outbox, loop=loop, name=str(mach.id)
            )
        else:
            host, port = split_addr(addr)
            self.link = DbgLink(
                host,
                port,
                lambda: self._schema,
                outbox=self.outbox,
                loop=loop,
                name=str(mach.id),
                secret=secret,
            )

    def _seed_pipes(self) -> None:
        """Pipes that existed before attaching: one synthetic ``semlogger`` check tx carrying their
        log lines seeds the debugger's reader (docs/protocol.md)."""
        pipes = getattr(self.mach.semlogger(), "pipes", None)
        entries = pipes() if callable(pipes) else []
        if not entries:
            return
        self._last_tx_id = "semlogger"
        msg = {
            "m": self._schema.id,
            "id": "semlogger",
            "c": self._last_clocks,
            "t": 2,
            "s": [],
            "chk": True,
            "log": [[e.level, e.text] for e in entries],
        }
        self.outbox.put_tx(pack(msg))

    # -- schema -----------------------------------------------------------------------------

    def _build_schema(self) -> SchemaMsg:
        mach = self.mach
        index = tuple(mach.state_names())
        schema = mach.schema()
        states = {
            name: StateDef(
                auto=bool(st.auto),
                multi=bool(st.multi),
                require=tuple(st.require),
                add=tuple(st.add),
                remove=tuple(st.remove),
                after=tuple(st.after),
                tags=tuple(st.tags),
            )
            for name, st in schema.items()
        }
        for name in index:
            states.setdefault(name, StateDef())
        groups: dict[str, tuple[int, ...]] = {}
        order: tuple[str, ...] = ()
        get_groups = getattr(mach, "groups", None)
        if callable(get_groups):
            try:
                raw, raw_order = get_groups()
            except Exception:
                raw, raw_order = {}, []
            pos = {n: i for i, n in enumerate(index)}
            for gname, members in raw.items():
                groups[gname] = tuple(
                    m if isinstance(m, int) else pos.get(m, -1)
                    for m in members
                    if (isinstance(m, int) and 0 <= m < len(index)) or m in pos
                )
            order = tuple(g for g in raw_order if g in groups)
        return SchemaMsg(
            id=str(mach.id),
            states_index=index,
            states=states,
            groups=groups,
            groups_order=order,
            parent=str(mach.parent_id or ""),
            tags=_names(mach.tags),
            token=self.token,
        )

    def _schema_changed(self) -> None:
        with self._lock:
            self._schema = self._build_schema()
            self._idx = {n: i for i, n in enumerate(self._schema.states_index)}
            self.outbox.put_schema(self._schema)
        self.link.wake()

    # -- tracer hooks (machine thread) --------------------------------------------------------

    def tracer_id(self) -> str:
        return f"am-dbg:{self.addr}"

    def schema_change(self, machine: Any, old_schema: Any) -> None:
        self._schema_changed()

    def verify_states(self, machine: Any) -> None:
        self._schema_changed()

    def transition_end(self, tx: Any) -> None:
        if self._closed:
            return
        mut = tx.mutation
        if mut.type == _EVAL:
            return
        is_check = bool(mut.is_check)
        if is_check and not self._checks_on():
            return
        with self._lock:
            idx = self._idx
            clocks = list(tx.time_after)
            msg: dict[str, Any] = {
                "m": self._schema.id,
                "id": tx.id,
                "c": clocks,
                "t": int(mut.type),
                "s": [idx.get(s, -1) for s in mut.called],
                "st": time.time_ns(),
            }
            if not tx.is_accepted:
                msg["acc"] = False
            if mut.is_auto:
                msg["auto"] = True
            if is_check:
                msg["chk"] = True
            qt = getattr(tx, "queue_tick", 0)
            if qt:
                msg["qt"] = qt
            if tx.queue_len:
                msg["ql"] = tx.queue_len
            if tx.steps:
                get = idx.get
                # ints (and IntEnums, which msgpack packs as ints), one short list per step
                msg["steps"] = [
                    [
                        st.type,
                        get(st.from_state, -1) if st.from_state else -1,
                        get(st.to_state, -1) if st.to_state else -1,
                        st.rel_type or 0,
                        st.is_final + 2 * st.is_self + 4 * st.is_enter,
                    ]
                    for st in tx.steps
                ]
            if tx.log_entries:
                msg["log"] = [[e.level, e.text] for e in tx.log_entries]
            if tx.pre_log_entries:
                msg["pre"] = [[e.level, e.text] for e in tx.pre_log_entries]
            args = self._args(mut.args)
            if args:
                msg["args"] = args
            if _EXCEPTION in mut.called and mut.args and _ARG_EXCEPTION in mut.args:
                add_error_details(msg, mut.args[_ARG_EXCEPTION], tx)
            typed = typed_args_of(self.mach, mut.called, mut.args)
            if typed is not None:
                msg["ta"] = typed  # typed args: [type name, fields] (docs/typed-args.md)
            packed = pack(msg)
            if len(packed) > MAX_TX_BYTES:
                packed = _shrunk(msg, len(packed))
            self.outbox.put_tx(packed)
            if not is_check:
                self._last_tx_id = msg["id"]
                self._last_clocks = clocks
                self._n_queued = 0
        self.link.wake()

    def mutation_queued(self, machine: Any, mutation: Any) -> None:
        if self._closed or mutation.type == _EVAL or not self._queued_on():
            return
        if mutation.is_check and not self._checks_on():
            return
        trace = "".join(traceback.format_stack(limit=16)[:-1]) if self.stack_traces else ""
        with self._lock:
            n = self._n_queued
            self._n_queued = n + 1
            msg: dict[str, Any] = {
                "m": self._schema.id,
                "id": f"{self._last_tx_id}-{n}",
                "c": self._last_clocks,
                "t": int(mutation.type),
                "s": [self._idx.get(s, -1) for s in mutation.called],
                "qd": True,
                "st": time.time_ns(),
            }
            qt = machine.queue_tick()
            if qt:
                msg["qt"] = qt
            if mutation.queue_tick:
                msg["mqt"] = mutation.queue_tick
            if mutation.is_auto:
                msg["auto"] = True
            if mutation.is_check:
                msg["chk"] = True
            args = self._args(mutation.args)
            if args:
                msg["args"] = args
            if mutation.args and _ARG_EXCEPTION in mutation.args:
                exc = getattr(mutation.args[_ARG_EXCEPTION], "err", None)
                if exc is not None:  # as Go's tracer: the error text is always an arg
                    msg.setdefault("args", {})["err"] = str(exc)
            if trace:
                msg["trace"] = trace
            packed = pack(msg)
            if len(packed) > MAX_TX_BYTES:
                packed = _shrunk(msg, len(packed))
            self.outbox.put_tx(packed)
        self.link.wake()

    def machine_dispose(self, machine_id: str) -> None:
        # Let the last messages go out, without blocking the disposing thread.
        self._closed = True
        loop = self.link.loop
        if not loop.is_closed():
            asyncio.run_coroutine_threadsafe(self.link.aclose(), loop)

    def inheritable(self) -> bool:
        return False

    # -- helpers ----------------------------------------------------------------------------

    def _queued_on(self) -> bool:
        if self.queued is not None:
            return self.queued
        return bool(self.mach.semlogger().is_queued())

    def _checks_on(self) -> bool:
        if self.checks is not None:
            return self.checks
        return bool(self.mach.semlogger().is_can())

    def _args(self, args: dict[str, Any] | None) -> dict[str, str] | None:
        if not args:
            return None
        mapper = self.mach.semlogger().args_mapper()
        if mapper is None:
            return None
        return mapper(args) or None

    # -- public -----------------------------------------------------------------------------

    @property
    def schema(self) -> SchemaMsg:
        """The schema message as last sent (with this instance's session token)."""
        return self._schema

    def stats(self) -> LinkStats:
        """Connection and outbox counters (``dropped`` > 0 means the outbox overflowed)."""
        return self.link.stats()

    def close(self, timeout: float = 2.0) -> bool:
        """Flush: wait up to ``timeout`` until am-dbg confirmed everything, then disconnect.

        Returns whether everything was delivered. From the link's own loop use :meth:`aclose`.
        """
        self._closed = True
        return self.link.close(timeout)

    async def aclose(self, timeout: float = 2.0) -> bool:
        """:meth:`close` for asyncio code running on the sender's loop."""
        self._closed = True
        return await self.link.aclose(timeout)


def connect(
    mach: Any,
    addr: str | None = None,
    *,
    outbox_limit: int = 10_000,
    queued: bool | None = True,
    checks: bool | None = None,
    stack_traces: bool = False,
    loop: asyncio.AbstractEventLoop | None = None,
    log_level: int | None = None,
    secret: str | None = None,
) -> DbgTracer:
    """Stream ``mach`` to the am-dbg at ``addr`` (default ``localhost:6831``; ``"1"`` too).

    Binds a `DbgTracer` and turns step recording on. Every queued mutation is sent as a
    queued-mutation message (``queued=False``: none; ``None``: only while the machine's semantic
    logger has its ``queued`` flag, i.e. ``AM_LOG_QUEUED`` / ``AM_LOG_FULL``). Check (Can*)
    transitions are sent while the ``can`` flag is on, unless ``checks`` says otherwise.
    ``outbox_limit`` bounds what waits for the debugger (the oldest is dropped and counted). Returns at once: the connection is made
    (and re-made) in the background and nothing the machine does ever waits for it. Attaching
    twice to the same address returns the existing tracer.

    ``log_level``: the level whose log lines reach the debugger. By default a machine that logs
    nothing (level 0, printing to stdout) is switched to ``LogLevel.CHANGES`` *without printing*
    (`set_empty`), so its ``[state]`` and ``[error]`` lines show in am-dbg; a machine whose level
    or logger the program set keeps them. Pass 0 to send no log lines.
    ``secret``: the debugger's shared secret (``am-dbg --token``), presented on every
    connection; default ``$AM_DBG_TOKEN``.
    """
    addr = DEFAULT_DBG_ADDR if addr in (None, "", "1") else addr
    _check_addr(addr)  # a clear ValueError now, not in the background
    for t in mach.tracers():
        if isinstance(t, DbgTracer) and t.addr == addr and not t._closed:
            return t
    tracer = DbgTracer(
        mach,
        addr,
        outbox_limit=outbox_limit,
        queued=queued,
        checks=checks,
        stack_traces=stack_traces,
        loop=loop,
        secret=secret,
    )
    slog = mach.semlogger()
    if log_level is not None:
        slog.set_level(log_level)
    elif int(slog.level()) == 0 and getattr(slog, "_logger", None) is None:
        slog.set_empty(_CHANGES)  # docs/protocol.md "Log lines by default"
    slog.enable_steps(True)
    mach.tracer_bind(tracer)
    return tracer


def _check_addr(addr: str) -> None:
    """``HOST:PORT`` or ``nats://HOST:PORT[?...]`` (docs/protocol.md), else ``ValueError``."""
    if addr.startswith("nats://"):
        from am_rpc.nats.subjects import parse_nats_addr, require_client

        parse_nats_addr(addr)
        require_client()
    else:
        split_addr(addr)


_FULL_FLAGS = ("steps", "can", "graph", "queued", "args")


def connect_env(mach: Any, env: dict[str, str] | None = None) -> DbgTracer | None:
    """`connect` configured like Go's debug-from-env helper (docs/api.md).

    ``AM_DBG_ADDR`` (``"1"`` = ``localhost:6831``; empty = no telemetry), ``AM_LOG`` (level 0-5,
    printed; unset: `connect`'s default, level 2 for the debugger only),
    ``AM_LOG_FULL=1`` (steps, checks, graph, queued, args) or the selective ``AM_LOG_STEPS``,
    ``AM_LOG_CHECKS``, ``AM_LOG_GRAPH``, ``AM_LOG_QUEUED``, ``AM_LOG_ARGS``; ``AM_HEALTHCHECK=1``
    (``Healthcheck`` every 30 s, when the schema has it); ``AM_DBG_TRACE=1``
    captures stack traces of queued mutations (off by default: it is costly). Telemetry is never
    switched off automatically (not under CI or a test runner).
    """
    env = dict(os.environ) if env is None else env
    addr = env.get("AM_DBG_ADDR", "")
    level = env.get("AM_LOG", "")
    slog = mach.semlogger()
    if level:
        try:
            lvl = int(level)
        except ValueError:
            lvl = 0
        slog.set_level(lvl if 0 <= lvl <= 5 else 0)
    full = env.get("AM_LOG_FULL", "") == "1"
    on = {flag: full or env.get(f"AM_LOG_{flag.upper()}", "") == "1" for flag in _FULL_FLAGS}
    on["checks"] = on.pop("can") or env.get("AM_LOG_CHECKS", "") == "1"
    if on["checks"]:
        slog.enable_can(True)
    if on["graph"]:
        slog.enable_graph(True)
    if on["queued"]:
        slog.enable_queued(True)
    if on["args"]:
        slog.enable_args(True)
    if not addr:
        if on["steps"]:
            slog.enable_steps(True)
        return None
    try:
        _check_addr(addr)
    except ValueError as err:
        # a typo in an environment variable must not stop the program, nor pass unnoticed
        print(f"am_rpc.dbg: AM_DBG_ADDR: {err}; not streaming {mach.id}", file=sys.stderr)
        return None
    trace = env.get("AM_DBG_TRACE", "") == "1" and env.get("AM_DBG_NO_TRACE", "") != "1"
    # AM_LOG given (even 0) is the level; without it connect's default applies
    tracer = connect(mach, addr, stack_traces=trace, log_level=int(slog.level()) if level else None)
    if env.get("AM_HEALTHCHECK", "") == "1":
        # Healthcheck every 30 s flushes pending pre-log lines to the debugger.
        from am_core.helpers import healthcheck

        healthcheck(mach)
    return tracer
