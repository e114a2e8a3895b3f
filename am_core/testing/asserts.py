"""Assertions on machines (Go ``pkg/helpers`` ``AssertIs``, ``AssertNot``, ``AssertNoErrEver``,
``AssertClock``). A failing one raises ``AssertionError`` whose message ends with the machine's
last transitions when a :class:`~am_core.testing.recorder.TxRecorder` watches it (docs/testing.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .recorder import render_last

if TYPE_CHECKING:
    from ..machine import Machine

__all__ = ["assert_clock", "assert_is", "assert_no_exception_ever", "assert_not"]


def _names(mach: Machine, states: str | Sequence[str]) -> list[str]:
    from ..errors import StateUnknownError

    names = [states] if isinstance(states, str) else list(states)
    for n in names:
        if not mach.has1(n):
            raise StateUnknownError(n)
    return names


def _fail(mach: Machine, msg: str) -> AssertionError:
    return AssertionError(f"{msg}\n{render_last(mach)}")


def assert_is(mach: Machine, states: str | Sequence[str]) -> None:
    """Every one of ``states`` is active."""
    names = _names(mach, states)
    missing = [n for n in names if not mach.is1(n)]
    if missing:
        raise _fail(
            mach,
            f"{mach.id}: expected active {' '.join(missing)}; active: "
            f"{' '.join(mach.active_states()) or '-'}",
        )


def assert_not(mach: Machine, states: str | Sequence[str]) -> None:
    """None of ``states`` is active."""
    names = _names(mach, states)
    active = [n for n in names if mach.is1(n)]
    if active:
        raise _fail(mach, f"{mach.id}: expected inactive {' '.join(active)}")


def assert_no_exception_ever(mach: Machine) -> None:
    """``Exception`` never activated on ``mach`` (its tick is 0)."""
    if mach.has1("Exception") and mach.tick("Exception") > 0:
        err = mach.err()
        raise _fail(
            mach,
            f"{mach.id}: Exception activated {(mach.tick('Exception') + 1) // 2} time(s); "
            f"last error: {err!r}",
        )


def assert_clock(mach: Machine, clock: Mapping[str, int]) -> None:
    """Each state's tick equals the expected one (odd: active)."""
    _names(mach, list(clock))
    wrong = {s: (t, mach.tick(s)) for s, t in clock.items() if mach.tick(s) != t}
    if wrong:
        detail = ", ".join(f"{s} expected {e} got {g}" for s, (e, g) in wrong.items())
        raise _fail(mach, f"{mach.id}: clock differs: {detail}")
