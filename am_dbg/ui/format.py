"""Text of transitions, steps and times, shared by the bars, the status bar, the tree and the log."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.style import Style
from rich.text import Text

from am_rpc.dbg.protocol import Step

__all__ = [
    "REL_NAMES",
    "STEP_ACTIVATE",
    "STEP_CALLED",
    "STEP_CANCEL",
    "STEP_DEACTIVATE",
    "STEP_HANDLER",
    "STEP_PASSIVE",
    "STEP_REL",
    "TYPE_SHORT",
    "clock_time",
    "markup_bold",
    "step_state",
    "step_text",
]

STEP_REL = 1
STEP_HANDLER = 2
STEP_ACTIVATE = 4
STEP_DEACTIVATE = 8
STEP_PASSIVE = 16
STEP_CALLED = 32
STEP_CANCEL = 64
_STEP_NAMES = (
    (STEP_REL, "rel"),
    (STEP_HANDLER, "handler"),
    (STEP_ACTIVATE, "activate"),
    (STEP_DEACTIVATE, "deactivate"),
    (STEP_PASSIVE, "deactivate-passive"),
    (STEP_CALLED, "called"),
    (STEP_CANCEL, "cancel"),
)
REL_NAMES = ("after", "add", "require", "remove")
TYPE_SHORT = {0: "+", 1: "-", 2: "=", 3: "eval"}
TYPE_NAMES = {0: "add", 1: "remove", 2: "set", 3: "eval"}


def _name(names: Sequence[str], idx: int) -> str:
    return names[idx] if 0 <= idx < len(names) else "Any"


def step_state(step: Step) -> int:
    """The state a non-relation step is about (its target, else its source; -1 = Any)."""
    return step.to_idx if step.to_idx >= 0 else step.from_idx


def step_text(step: Step, names: Sequence[str]) -> str:
    """Step text of spec §2.4 with `**bold**` names: `**A** add **B**`, `handler **A**Enter`."""
    if step.type & STEP_REL:
        rel = REL_NAMES[step.rel_type] if 0 <= step.rel_type < 4 else str(step.rel_type)
        return f"**{_name(names, step.from_idx)}** {rel} **{_name(names, step.to_idx)}**"
    kind = next((n for bit, n in _STEP_NAMES if step.type & bit), str(step.type))
    state = _name(names, step_state(step))
    suffix = ""
    if step.type & STEP_HANDLER:
        if step.is_self:
            suffix = state
        elif step.is_final:
            suffix = "State" if step.is_enter else "End"
        else:
            suffix = "Enter" if step.is_enter else "Exit"
    return f"{kind} **{state}**{suffix}"


def markup_bold(text: str, base: Style | None = None) -> Text:
    """`a **b** c` -> Text with `b` bold."""
    out = Text(style=base or "")
    for k, part in enumerate(text.split("**")):
        out.append(part, Style(bold=True) if k % 2 else None)
    return out


def clock_time(ns: int, test_mode: bool = False) -> str:
    """`HH:MM:SS.nnnnnnnnn` in UTC (receive times are UTC; snapshots must not depend on the TZ)."""
    if ns <= 0:
        return "--:--:--"
    sec, frac = divmod(ns, 10**9)
    return time.strftime("%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}"
