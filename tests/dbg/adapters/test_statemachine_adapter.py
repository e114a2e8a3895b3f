"""The python-statemachine adapter against a real headless am-dbg: the README traffic light (plus
a guarded event that cancels, an event not allowed and a raising callback) and a StateChart
with a compound state; the recording's summary has every state and every transition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from statemachine import State, StateChart, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from am_dbg.adapters.statemachine import attach

from .headless import headless, log_text, summary, txs


class TrafficLightMachine(StateMachine):
    "A traffic light machine"

    green = State(initial=True)
    yellow = State()
    red = State()

    cycle = green.to(yellow) | yellow.to(red) | red.to(green)
    slow = yellow.to(red, cond="is_late")
    crash = red.to(green, before="explode")

    late = False

    def is_late(self) -> bool:
        return self.late

    def explode(self) -> None:
        raise RuntimeError("lamp broke")

    def before_cycle(self, event: str, source: State, target: State, message: str = "") -> str:
        message = ". " + message if message else ""
        return f"Running {event} from {source.id} to {target.id}{message}"

    def on_enter_red(self) -> None:
        self.seen.append("enter red")

    def on_exit_red(self) -> None:
        self.seen.append("exit red")

    def __init__(self, *a: Any, **kw: Any) -> None:
        self.seen: list[str] = []
        super().__init__(*a, **kw)


def _drive(sm: TrafficLightMachine) -> list[Any]:
    out: list[Any] = [sm.send("cycle", message="hi")]  # green -> yellow
    with pytest.raises(TransitionNotAllowed):
        sm.slow()  # guard false
    out.append(sm.cycle())  # yellow -> red
    with pytest.raises(RuntimeError, match="lamp broke"):
        sm.crash()
    out.append(sm.cycle())  # red -> green
    with pytest.raises(TransitionNotAllowed):
        sm.send("slow")  # not from green
    return out


def test_traffic_light_into_headless_am_dbg(tmp_path: Path) -> None:
    rec = tmp_path / "light.amdbg"
    bare = TrafficLightMachine()
    bare_out = _drive(bare)
    with headless(rec) as addr:
        sm = TrafficLightMachine()
        ad = attach(sm, addr, id="light")
        out = _drive(sm)
        assert ad.close(10)
    assert out == bare_out and sm.seen == bare.seen
    assert sm.current_state_value == bare.current_state_value == "green"

    s = summary(rec)["light"]
    assert s["states"] == ["green", "yellow", "red", "Exception"]
    assert s["transitions"] == 1 + 6

    got = txs(rec, "light")
    assert got[0]["active"] == ["green"]
    rows = [(m["called"], m.get("acc", True), m["active"], log_text(m)[-1]) for m in got[1:]]
    assert rows == [
        (["yellow"], True, ["yellow"], "[result] executed"),
        ([], False, ["yellow"], "[result] canceled"),
        (["red"], True, ["red"], "[result] executed"),
        ([], True, ["red", "Exception"], "[error] RuntimeError: lamp broke"),
        (["green"], True, ["green"], "[result] executed"),
        ([], False, ["green"], "[result] canceled"),
    ]
    assert log_text(got[1])[0] == "[event] cycle: green -> yellow"
    assert got[1]["args"] == {"message": "hi"}
    assert "[exit] red" in log_text(got[5]) and "[enter] green" in log_text(got[5])
    assert ad.sender.schema.states["red"].tags == ("<-cycle", "<-slow")


def test_statechart_compound(tmp_path: Path) -> None:
    class Shape(StateChart):
        class shape(State.Compound):  # noqa: N801 (the library names states by attribute)
            a = State(initial=True)
            b = State()
            go = a.to(b)

        done = State(final=True)
        finish = shape.to(done)

    rec = tmp_path / "chart.amdbg"
    with headless(rec) as addr:
        sc = Shape()
        ad = attach(sc, addr, id="chart")
        sc.send("go")
        sc.send("nothing-here")  # a StateChart ignores unknown events: a canceled tx
        sc.send("finish")
        assert ad.close(10)
    s = summary(rec)["chart"]
    assert s["states"] == ["shape", "a", "b", "done", "Exception"]
    got = txs(rec, "chart")
    assert [(m["active"], m.get("acc", True)) for m in got] == [
        (["shape", "a"], True),
        (["shape", "b"], True),
        (["shape", "b"], False),
        (["done"], True),
    ]
    assert ad.sender.schema.states["b"].require == ("shape",)
