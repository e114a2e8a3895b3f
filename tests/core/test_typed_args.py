"""Typed args: declared per state, checked on mutation, read typed, matched by when_args; mypy
(strict) accepts a typed example and rejects a wrong one."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import pytest

from am_core import Event, InvalidArgsError, Machine, State, StatesBase
from am_core.typed_args import args_type_named

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "typed_args"


@dataclass
class ConnectArgs:
    addr: str
    port: int = 6831
    tags: list[str] = field(default_factory=list)


class JobArgs(TypedDict):
    job_id: int
    note: str | None


class Net(StatesBase):
    Connect = State(args=ConnectArgs)
    Job = State(args=JobArgs)
    Plain = State()


class Seen:
    def __init__(self) -> None:
        self.connect: list[ConnectArgs] = []
        self.jobs: list[JobArgs] = []

    def ConnectState(self, e: Event) -> None:
        self.connect.append(e.args_of(ConnectArgs))

    def JobState(self, e: Event) -> None:
        self.jobs.append(e.args_of(JobArgs))


def new() -> tuple[Machine, Seen]:
    m = Machine(Net.schema(), id="typed")
    seen = Seen()
    m.handlers_bind(seen)
    return m, seen


def test_dataclass_instance_is_the_args_and_reads_back_typed() -> None:
    m, seen = new()
    m.add1(Net.Connect, ConnectArgs("h", 7, ["a"]))
    assert seen.connect == [ConnectArgs("h", 7, ["a"])]
    m.remove1(Net.Connect)
    m.add1(Net.Connect, {"addr": "dict-too"})  # untyped callers keep working, defaults fill in
    assert seen.connect[-1] == ConnectArgs("dict-too", 6831, [])


def test_typed_dict_args() -> None:
    m, seen = new()
    m.add1(Net.Job, JobArgs(job_id=3, note=None))
    assert seen.jobs == [{"job_id": 3, "note": None}]


def test_wrong_field_type_names_state_and_field() -> None:
    m, seen = new()
    with pytest.raises(InvalidArgsError, match=r"Connect: field 'port' of ConnectArgs expects int"):
        m.add1(Net.Connect, {"addr": "h", "port": "80"})
    with pytest.raises(InvalidArgsError, match=r"Job: field 'note' of JobArgs expects"):
        m.add1(Net.Job, {"job_id": 1, "note": 5})
    assert m.not1(Net.Connect) and not seen.connect  # nothing happened


def test_missing_required_field_on_add_not_on_remove() -> None:
    m, _ = new()
    with pytest.raises(InvalidArgsError, match=r"Connect: field 'addr' of ConnectArgs is missing"):
        m.add1(Net.Connect)
    m.add1(Net.Connect, ConnectArgs("h"))
    m.remove1(Net.Connect)  # a remove needs no args
    assert m.not1(Net.Connect)


def test_untyped_states_and_other_keys_untouched() -> None:
    m, _ = new()
    m.add1(Net.Plain, {"anything": object()})
    # a key of another state's args is no field of ConnectArgs: left alone
    m.add([Net.Connect, Net.Plain], {"addr": "h", "extra": 1})
    assert m.is_([Net.Connect, Net.Plain])


def test_when_args_with_typed_instance() -> None:
    m, _ = new()
    w = m.when_args(Net.Connect, ConnectArgs("h", 9))
    m.add1(Net.Connect, ConnectArgs("h", 8))
    assert not w.done()
    m.remove1(Net.Connect)
    m.add1(Net.Connect, ConnectArgs("h", 9))
    assert w.wait(10)


def test_declared_types_are_registered_by_name() -> None:
    assert args_type_named("ConnectArgs") is ConnectArgs


def _mypy(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--no-incremental",
            "--cache-dir=/dev/null",
            str(path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_mypy_accepts_typed_example() -> None:
    out = _mypy(FIXTURES / "ok_example.py")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_rejects_wrong_example() -> None:
    out = _mypy(FIXTURES / "bad_example.py")
    assert out.returncode == 1, out.stdout + out.stderr
    lines = (FIXTURES / "bad_example.py").read_text().splitlines()
    bad = {i + 1 for i, line in enumerate(lines) if "# BAD-" in line}
    flagged = {int(ln.split(":")[1]) for ln in out.stdout.splitlines() if ": error:" in ln}
    assert bad == flagged, out.stdout
