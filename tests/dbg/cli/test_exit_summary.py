"""The exit summary (spec/debugger.md §6: `Clients`, `Transitions`, `Memory`) counts like
`--print-summary` (queued-mutation messages are not transitions), in both modes."""

from __future__ import annotations

import json
import re

from .run import DEMO, am_dbg, am_dbg_tty


def _expected() -> tuple[int, int]:
    got = am_dbg("-i", str(DEMO), "--print-summary")
    assert got.returncode == 0, got.stderr
    machines = json.loads(got.stdout)["machines"]
    return len(machines), sum(m["transitions"] for m in machines)


def test_headless_exit_summary_counts_transitions_like_print_summary() -> None:
    clients, txs = _expected()
    got = am_dbg("-i", str(DEMO), "--headless", "-l", "-1", "--exit-after", "0.1")
    assert got.returncode == 0, got.stderr
    assert f"Clients: {clients}\n" in got.stderr
    assert f"Transitions: {txs}\n" in got.stderr
    assert re.search(r"^Memory: \d+mb$", got.stderr, re.M)


def test_leaving_the_ui_prints_the_memory_line() -> None:
    clients, txs = _expected()
    code, out = am_dbg_tty("-i", str(DEMO), "-l", "-1", "--exit-after", "1")
    assert code == 0, out[-2000:]
    tail = out[out.rfind("Clients:") :]
    assert f"Clients: {clients}" in tail and f"Transitions: {txs}" in tail
    assert re.search(r"Memory: \d+mb", tail), tail
