"""The pytest plugin (``pytest11`` entry point ``asyncmachine``): machine fixtures with a recorder
and, when a test fails, a report section with the last transitions of every machine it recorded
(docs/testing.md). Imports pytest, so only pytest loads it."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from ..machine import Machine
from .recorder import TxRecorder

__all__ = ["am_machine", "am_recorder"]

_KEY = pytest.StashKey[list[TxRecorder]]()


def _recorders(request: pytest.FixtureRequest) -> list[TxRecorder]:
    item = request.node
    if _KEY not in item.stash:
        item.stash[_KEY] = []
    return item.stash[_KEY]


@pytest.fixture
def am_recorder(request: pytest.FixtureRequest) -> Callable[..., TxRecorder]:
    """``am_recorder(mach, keep=20)``: record ``mach``'s transitions; dumped if the test fails."""
    recs = _recorders(request)

    def make(mach: Machine, keep: int = 20) -> TxRecorder:
        rec = TxRecorder(mach, keep)
        recs.append(rec)
        return rec

    return make


@pytest.fixture
def am_machine(
    am_recorder: Callable[..., TxRecorder],
) -> Iterator[Callable[..., Machine]]:
    """``am_machine(schema, **kw)``: a :class:`Machine` with a recorder, disposed after the test."""
    made: list[Machine] = []

    def make(schema: Any, **kw: Any) -> Machine:
        mach = Machine(schema, **kw)
        am_recorder(mach)
        made.append(mach)
        return mach

    yield make
    for mach in made:
        mach.dispose()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    recs = item.stash.get(_KEY, None)
    if report.failed and recs:
        report.sections.append(
            ("asyncmachine: last transitions", "\n\n".join(r.render() for r in recs))
        )
    return report
