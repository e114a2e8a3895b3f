"""`am_core.__all__` is exactly what the package root offers (httpx's test_exported_members)."""

from __future__ import annotations

import inspect

import am_core
import am_core.errors


def test_all_is_exactly_the_public_names() -> None:
    public = {
        n for n, v in vars(am_core).items() if not n.startswith("_") and not inspect.ismodule(v)
    }
    assert len(am_core.__all__) == len(set(am_core.__all__))
    assert sorted(am_core.__all__) == sorted(public)


def test_every_error_class_is_exported_from_the_root() -> None:
    errors = {
        n
        for n, v in vars(am_core.errors).items()
        if inspect.isclass(v) and issubclass(v, Exception)
    }
    assert errors <= set(am_core.__all__)


def test_machine_api_is_exported() -> None:
    assert am_core.MachineApi is am_core.api.MachineApi
