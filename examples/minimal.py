"""The minimal example (spec/examples.md §1): two states, one relation, one mutation, one check.

``Foo`` requires ``Bar``. Adding ``Foo`` alone on an idle machine is canceled, because ``Bar`` is
neither active nor being added; adding both works.

Run: ``python examples/minimal.py``
"""

from __future__ import annotations

from am_core import LogLevel, Machine, Result, State


def main() -> None:
    mach = Machine({"Foo": State(require=["Bar"]), "Bar": State()}, id="minimal")
    mach.set_log_level(LogLevel.CHANGES)

    res = mach.add1("Foo")
    assert res == Result.CANCELED
    print(f"add1('Foo') -> {res}; is1('Foo') = {mach.is1('Foo')}")

    res = mach.add(["Foo", "Bar"])
    assert res == Result.EXECUTED
    print(f"add(['Foo', 'Bar']) -> {res}; {mach.str()}")


if __name__ == "__main__":
    main()
