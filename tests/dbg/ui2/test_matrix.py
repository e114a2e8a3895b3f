"""The matrix computation (spec/debugger.md §4.7) on the Go fixture's steps."""

from __future__ import annotations

from am_dbg.ui.matrix import matrix_cells

from .data import go_session


def test_matrix_cells_sum_step_bits_per_source_and_target() -> None:
    hist = go_session().machines["ps-2"]
    n = len(hist.state_names)
    cols = tuple(range(n))
    checked = 0
    for i in range(1, len(hist)):
        steps = hist.tx(i).steps
        if not steps:
            continue
        m = matrix_cells(hist, i, cols)
        info = hist.info(i)
        assert m.called == tuple(1 if k in info.called else 0 for k in cols)
        now, prev = hist.clocks(i), hist.clocks(i - 1)
        assert m.ticks == tuple(now[k] - prev[k] for k in cols)
        assert sum(map(sum, m.grid)) == sum(
            s.type for s in steps if (s.to_idx if s.to_idx >= 0 else s.from_idx) >= 0
        )
        for s in steps:
            if s.from_idx >= 0 and s.to_idx >= 0:
                assert m.grid[s.to_idx][s.from_idx] >= s.type
        checked += 1
    assert checked > 10


def test_matrix_steps_truncated_to_the_cursor_and_group_columns() -> None:
    hist = go_session().machines["ps-2"]
    i = next(k for k in range(len(hist)) if len(hist.tx(k).steps) >= 3)
    steps = hist.tx(i).steps
    part = matrix_cells(hist, i, range(len(hist.state_names)), steps[:1])
    assert sum(map(sum, part.grid)) == steps[0].type
    target = steps[0].to_idx if steps[0].to_idx >= 0 else steps[0].from_idx
    only = matrix_cells(hist, i, (target,), steps[:1])
    assert only.cols == (target,) and len(only.grid) == 1
