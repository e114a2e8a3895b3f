"""The ``transitions`` adapter against a real headless am-dbg: the README "Matter" machine (with a
condition that cancels, an invalid trigger and a raising callback), a HierarchicalMachine and an
AsyncMachine; the recording's summary has every state and every transition with its result."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from transitions import Machine, MachineError
from transitions.extensions import HierarchicalMachine
from transitions.extensions.asyncio import AsyncMachine

from am_dbg.adapters.transitions import attach

from .headless import headless, log_text, summary, txs

STATES = ["solid", "liquid", "gas", "plasma"]
TRANSITIONS = [
    {"trigger": "melt", "source": "solid", "dest": "liquid"},
    {"trigger": "evaporate", "source": "liquid", "dest": "gas"},
    {"trigger": "sublimate", "source": "solid", "dest": "gas"},
    {"trigger": "ionize", "source": "gas", "dest": "plasma"},
    {"trigger": "cool", "source": "plasma", "dest": "gas", "conditions": "is_cold"},
    {"trigger": "explode", "source": "plasma", "dest": "solid", "before": "boom"},
]


class Matter:
    cold = False
    entered: list[str]

    def __init__(self) -> None:
        self.entered = []

    def is_cold(self) -> bool:
        return self.cold

    def boom(self) -> None:
        raise ValueError("kaboom")

    def on_enter_gas(self, *args: Any, **kw: Any) -> None:
        self.entered.append("gas")


def _drive_matter(lump: Any) -> None:
    lump.melt()
    lump.evaporate(temp=100)
    lump.ionize()
    assert lump.cool() is False  # condition false: canceled
    with pytest.raises(MachineError):
        lump.melt()  # invalid from plasma
    with pytest.raises(ValueError, match="kaboom"):
        lump.explode()
    lump.cold = True
    assert lump.cool() is True


def test_matter_into_headless_am_dbg(tmp_path: Path) -> None:
    rec = tmp_path / "matter.amdbg"
    # the bare machine, for the same behaviour without the adapter
    bare = Matter()
    Machine(bare, states=STATES, transitions=TRANSITIONS, initial="solid")
    _drive_matter(bare)

    lump = Matter()
    with headless(rec) as addr:
        machine = Machine(lump, states=STATES, transitions=TRANSITIONS, initial="solid")
        ad = attach(machine, addr, id="matter")
        _drive_matter(lump)
        assert ad.close(10)
    assert lump.state == bare.state == "gas" and lump.entered == bare.entered == ["gas", "gas"]

    s = summary(rec)["matter"]
    assert s["states"] == [*STATES, "Exception"]
    assert s["transitions"] == 1 + 7  # the attach snapshot + every trigger

    got = txs(rec, "matter")
    assert got[0]["active"] == ["solid"]
    rows = [
        (m["called"], m.get("acc", True), m["active"], log_text(m)[0], log_text(m)[-1])
        for m in got[1:]
    ]
    assert rows == [
        (["liquid"], True, ["liquid"], "[trigger] melt: solid -> liquid", "[result] executed"),
        (["gas"], True, ["gas"], "[trigger] evaporate: liquid -> gas", "[result] executed"),
        (["plasma"], True, ["plasma"], "[trigger] ionize: gas -> plasma", "[result] executed"),
        (["gas"], False, ["plasma"], "[trigger] cool: plasma -> gas", "[result] canceled"),
        (
            [],
            True,
            ["plasma", "Exception"],
            "[trigger] melt: plasma -> (none)",
            '[error] MachineError: "Can\'t trigger event melt from state plasma!"',
        ),
        (
            ["solid"],
            True,
            ["plasma", "Exception"],
            "[trigger] explode: plasma -> solid",
            "[error] ValueError: kaboom",
        ),
        (["gas"], True, ["gas"], "[trigger] cool: plasma -> gas", "[result] executed"),
    ]
    assert got[2]["args"] == {"temp": "100"}
    assert "[callback] on_enter_gas" in log_text(got[2])
    assert "[cancel] by conditions: is_cold" in log_text(got[4])
    assert "[callback] boom" in log_text(got[6])


def test_hierarchical_machine_flattened(tmp_path: Path) -> None:
    rec = tmp_path / "hsm.amdbg"
    states = ["standing", "walking", {"name": "caffeinated", "children": ["dithering", "running"]}]
    trans = [
        ["walk", "standing", "walking"],
        ["stop", "walking", "standing"],
        ["drink", "*", "caffeinated"],
        ["walk", ["caffeinated", "caffeinated_dithering"], "caffeinated_running"],
        ["relax", "caffeinated", "standing"],
    ]
    with headless(rec) as addr:
        machine = HierarchicalMachine(states=states, transitions=trans, initial="standing")
        ad = attach(machine, addr, id="hsm")
        machine.walk()
        machine.drink()
        machine.walk()
        machine.relax()
        assert ad.close(10)
    s = summary(rec)["hsm"]
    assert s["states"] == [
        "standing",
        "walking",
        "caffeinated",
        "caffeinated_dithering",
        "caffeinated_running",
        "Exception",
    ]
    assert s["transitions"] == 5
    got = txs(rec, "hsm")
    assert [m["active"] for m in got] == [
        ["standing"],
        ["walking"],
        ["caffeinated"],
        ["caffeinated", "caffeinated_running"],
        ["standing"],
    ]
    assert ad.sender.schema.states["caffeinated_running"].require == ("caffeinated",)
    assert ad.sender.schema.states["caffeinated_running"].remove == ("caffeinated_dithering",)


def test_async_machine(tmp_path: Path) -> None:
    rec = tmp_path / "async.amdbg"

    class Model:
        async def on_enter_liquid(self) -> None:
            await asyncio.sleep(0)

    async def run(addr: str) -> None:
        model = Model()
        machine = AsyncMachine(model, states=STATES, transitions=TRANSITIONS, initial="solid")
        ad = attach(machine, addr, id="amatter")
        await model.melt()  # type: ignore[attr-defined]
        await model.evaporate()  # type: ignore[attr-defined]
        assert await ad.sender.link.aclose(10)

    with headless(rec) as addr:
        asyncio.run(run(addr))
    got = txs(rec, "amatter")
    assert [m["active"] for m in got] == [["solid"], ["liquid"], ["gas"]]
    assert "[callback] on_enter_liquid" in log_text(got[1])
