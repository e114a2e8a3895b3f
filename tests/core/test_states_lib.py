"""The reusable states: basic, connected, disposed (schema shapes and behaviour)."""

from __future__ import annotations

from am_core.ctx import Ctx
from am_core.machine import Machine
from am_core.states import (
    DISPOSED_ARG_HANDLER,
    BasicStates,
    ConnectedStates,
    DisposedHandlers,
    DisposedStates,
)
from am_core.types import State


def test_basic_schema_shape() -> None:
    s = BasicStates.schema()
    assert BasicStates.names() == [
        "Exception",
        "ErrNetwork",
        "ErrHandlerTimeout",
        "Start",
        "Ready",
        "Healthcheck",
        "Heartbeat",
    ]
    assert s["Exception"].multi and s["Healthcheck"].multi
    assert s["ErrNetwork"].require == ["Exception"] and s["ErrNetwork"].add == ["Exception"]
    assert s["Ready"].require == ["Start"]
    assert BasicStates.Ready == "Ready"


def test_basic_behaviour_err_states_and_ready() -> None:
    m = Machine(BasicStates.schema())
    m.add_err_state("ErrNetwork", ConnectionError("reset"))
    assert m.is_(["ErrNetwork", "Exception"])
    m.remove1("Exception")
    assert not m.is1("ErrNetwork")
    m.add1("Ready")
    assert not m.is1("Ready")  # requires Start
    m.add(["Start", "Ready"])
    assert m.is1("Ready")


def test_connected_states_exclusive_and_disconnected_auto() -> None:
    class Conn(BasicStates, ConnectedStates):
        pass

    m = Machine(Conn.schema())
    m.add1("Start")  # any change lets the auto state in
    assert m.is1("Disconnected")
    m.add1("Connecting")
    assert m.active_states(ConnectedStates.names()) == ["Connecting"]
    m.add1("Connected")
    assert m.active_states(ConnectedStates.names()) == ["Connected"]
    m.remove1("Connected")
    assert m.is1("Disconnected")


def test_disposed_mixin_runs_registered_disposers_then_disposes() -> None:
    class States(BasicStates, DisposedStates):
        Work = State()

    class Handlers(DisposedHandlers):
        pass

    m = Machine(States.schema(), id="d1")
    m.handlers_bind(Handlers())
    calls: list[tuple[str, bool]] = []

    def disposer(mach_id: str, ctx: Ctx) -> None:
        calls.append((mach_id, ctx.done()))

    m.add1("RegisterDisposal", {DISPOSED_ARG_HANDLER: disposer})
    m.add1("RegisterDisposal", {DISPOSED_ARG_HANDLER: disposer})
    m.add(["Start"])
    m.add1("Disposing")
    assert not m.is1("Start")
    assert m.when_disposed().wait(5)
    assert calls == [("d1", False), ("d1", False)]
    assert m.is_disposed()


def test_register_disposal_without_handler_is_invalid_args() -> None:
    class States(BasicStates, DisposedStates):
        pass

    m = Machine(States.schema())
    m.handlers_bind(DisposedHandlers())
    m.add1("RegisterDisposal", {"nope": 1})
    assert m.is_err()
    assert "DisposedArgHandler invalid" in str(m.err())
