"""With the defaults a new user has (a plain handler class, the README's snippet), am-dbg shows
the `[state]` lines and a handler's error with its traceback (docs/protocol.md "Errors and log
lines by default")."""

from __future__ import annotations

from am_core import LogLevel, Machine, State
from am_dbg.model.history import MachineHistory
from am_dbg.server import IngestServer
from am_rpc.dbg import connect, connect_env

from .conftest import in_thread, wait_for

SCHEMA = {"Start": State(), "Ready": State(require=["Start"]), "Foo": State()}


class Handlers:  # a plain class, as in the README: no ExceptionHandler
    def FooState(self, e):  # type: ignore[no-untyped-def]
        raise ValueError("foo broke on purpose")


def _log(h: MachineHistory, level: int = 2) -> str:
    """The log lines the debugger's log pane shows at `level` (its default is 2)."""
    return "\n".join(
        e.text for i in range(len(h)) for e in h.log_entries(i) if 0 < e.level <= level
    )


async def _stream(server: IngestServer, fn) -> MachineHistory:  # type: ignore[no-untyped-def]
    mach = await in_thread(lambda: fn(f"127.0.0.1:{server.port}"))
    s = server.session
    await wait_for(lambda: "m" in s.machines and len(s.machines["m"]) >= mach, "the txs")  # type: ignore[operator]
    return s.machines["m"]


async def test_readme_snippet_shows_state_lines(server: IngestServer, capsys) -> None:  # type: ignore[no-untyped-def]
    def run(addr: str) -> int:
        mach = Machine(dict(SCHEMA), id="m")
        t = connect_env(mach, {"AM_DBG_ADDR": addr})
        assert t is not None
        mach.add(["Start", "Ready"])
        assert t.close()
        return 1

    h = await _stream(server, run)
    assert "[state] +Start +Ready" in _log(h)
    assert "[state]" not in capsys.readouterr().out  # reaches the debugger without printing


async def test_an_explicit_level_or_am_log_wins(server: IngestServer) -> None:
    def run(addr: str) -> int:
        m = Machine(dict(SCHEMA), id="m")
        t = connect_env(m, {"AM_DBG_ADDR": addr, "AM_LOG": "0"})
        assert t is not None and int(m.semlogger().level()) == 0
        m.add1("Start")
        assert t.close()
        return 1

    h = await _stream(server, run)
    assert "[state]" not in _log(h, 5)


async def test_plain_handler_error_shows_text_and_traceback(server: IngestServer) -> None:
    def run(addr: str) -> int:
        mach = Machine(dict(SCHEMA), id="m")
        mach.handlers_bind(Handlers())
        t = connect(mach, addr)
        mach.add1("Foo")
        assert mach.is1("Exception")
        assert t.close()
        return 2

    h = await _stream(server, run)
    log = _log(h)
    assert "[error:add] Foo (foo broke on purpose)" in log
    assert "Traceback" in log and "FooState" in log and "ValueError" in log
    k = h.state_names.index("Exception")
    err_tx = next(i for i in range(len(h)) if k in h.info(i).called and not h.info(i).is_queued)
    assert h.tx(err_tx).args.get("err") == "foo broke on purpose"


async def test_exception_handler_error_is_not_doubled(server: IngestServer) -> None:
    from am_core import ExceptionHandler

    class WithHandler(ExceptionHandler, Handlers):
        pass

    def run(addr: str) -> int:
        mach = Machine(dict(SCHEMA), id="m", log_level=LogLevel.CHANGES)
        mach.semlogger().set_empty(LogLevel.CHANGES)
        mach.handlers_bind(WithHandler())
        t = connect(mach, addr)
        mach.add1("Foo")
        assert t.close()
        return 2

    h = await _stream(server, run)
    assert _log(h).count("[error") == 1
