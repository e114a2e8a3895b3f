"""`__all__` of am_dbg and its subpackages is exactly what each offers."""

from __future__ import annotations

import importlib
import inspect

import pytest

import am_dbg


def test_root_all_is_exact() -> None:
    assert am_dbg.__all__ == ["DbgError", "__version__"]
    assert am_dbg.DbgError is importlib.import_module("am_dbg.errors").DbgError


@pytest.mark.parametrize("name", ["am_dbg.model", "am_dbg.server", "am_dbg.recordings"])
def test_subpackage_all_is_exactly_the_public_names(name: str) -> None:
    pkg = importlib.import_module(name)
    public = {n for n, v in vars(pkg).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert len(pkg.__all__) == len(set(pkg.__all__))
    assert sorted(pkg.__all__) == sorted(public)
