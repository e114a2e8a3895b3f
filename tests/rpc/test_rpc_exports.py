"""`am_rpc.__all__` is exactly what the package root offers, its lazy names included."""

from __future__ import annotations

import inspect

import am_rpc
import am_rpc.errors

# imported by am_rpc/__init__.py for its own use, not part of the API
_HELPERS = {"Any", "TYPE_CHECKING", "annotations"}


def test_all_is_exactly_the_public_names() -> None:
    eager = {
        n for n, v in vars(am_rpc).items() if not n.startswith("_") and not inspect.ismodule(v)
    }
    public = (eager - _HELPERS) | set(am_rpc._LAZY)
    assert len(am_rpc.__all__) == len(set(am_rpc.__all__))
    assert sorted(am_rpc.__all__) == sorted(public)


def test_every_exported_name_resolves() -> None:
    for name in am_rpc.__all__:
        assert getattr(am_rpc, name) is not None, name
    assert am_rpc.NetMachine.__module__ == "am_rpc.netmach"


def test_every_error_class_of_errors_py_is_exported() -> None:
    errors = {
        n for n, v in vars(am_rpc.errors).items() if inspect.isclass(v) and issubclass(v, Exception)
    }
    assert errors == set(am_rpc.errors.__all__)
    assert errors <= set(am_rpc.__all__)
