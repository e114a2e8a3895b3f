"""README.md and docs/api.md stay true: generated tables match, code runs, exports are listed."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

import am_core
import am_rpc
import am_rpc.dbg

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def load_doc_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_readme_key_bindings_match_the_apps_table() -> None:
    gen = load_doc_script("readme_bindings")
    text = README.read_text()
    assert gen.render(text) == text, "run: python docs/readme_bindings.py"
    from am_dbg.ui.bindings import BINDINGS

    table = section(text, "Key bindings")
    for spec in BINDINGS:
        assert f"| {spec.description} |" in table


@pytest.mark.parametrize("title", ["What asyncmachine is", "See your own machine in am-dbg"])
def test_readme_python_snippets_run(title: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv("AM_DBG_ADDR", raising=False)
    blocks = re.findall(r"```python\n(.*?)```", section(README.read_text(), title), re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, f"README.md: {title}", "exec"), {})


def test_readme_minimal_example_behaves_as_commented() -> None:
    from am_core import Machine, Result, State

    mach = Machine({"Foo": State(require=["Bar"]), "Bar": State()})
    assert mach.add1("Foo") == Result.CANCELED
    assert not mach.is1("Foo")
    assert mach.add(["Foo", "Bar"]) == Result.EXECUTED


def test_api_doc_lists_every_public_name() -> None:
    doc = (ROOT / "docs" / "api.md").read_text()
    names = {*am_core.__all__, *am_rpc.__all__, *am_rpc.dbg.__all__}
    missing = sorted(n for n in names if not re.search(rf"\b{re.escape(n)}\b", doc))
    assert not missing, f"docs/api.md does not mention {missing}"


def test_screenshot_was_exported_from_the_demo_recording() -> None:
    svg = (ROOT / "docs" / "screenshot.svg").read_text()
    assert svg.lstrip().startswith("<svg")
    for mid in ("supervisor", "worker-2", "pipeline", "net-client", "editor"):
        assert mid in svg
