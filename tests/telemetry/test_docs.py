"""docs/telemetry.md stays true: every Python example in it runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client")
pytest.importorskip("opentelemetry.sdk")

DOC = Path(__file__).resolve().parents[2] / "docs" / "telemetry.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_doc_example_runs(i: int, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(BLOCKS[i], f"docs/telemetry.md block {i}", "exec"), {"__name__": "doc"})
    lines = capsys.readouterr().out.splitlines()
    # a comment after a print is the line it prints
    for expected in re.findall(r"print\(.*\)  # (.+)", BLOCKS[i]):
        assert expected in lines, (expected, lines)


def test_there_is_an_example_per_layer() -> None:
    text = "\n".join(BLOCKS)
    for name in ("SQLiteHistory", "PrometheusExporter", "dashboard(", "OtelTracer"):
        assert name in text
