"""Every error class a package defines, in any module, inherits from the package's root and is in
the tree at the top of its ``errors`` module (the httpx-style map a reader looks up)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

import am_core
import am_core.errors
import am_dbg
import am_dbg.errors
import am_rpc
import am_rpc.errors

SKIP = {"__main__"}

# package, its errors module, its root, a few strays the walk must find (defined outside errors.py)
TREES = [
    (am_core, am_core.errors, am_core.errors.AmError, {"NoLoopError", "CtxCanceledError"}),
    (am_rpc, am_rpc.errors, am_rpc.errors.RpcError, {"MessageError", "NatsServerError"}),
    (am_dbg, am_dbg.errors, am_dbg.errors.DbgError, {"ListenError", "RecordingError"}),
]
IDS = [pkg.__name__ for pkg, *_ in TREES]


def _error_classes(pkg: ModuleType) -> dict[str, type[BaseException]]:
    top = pkg.__name__
    mods = [pkg] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(pkg.__path__, f"{top}.")
        if info.name.rsplit(".", 1)[-1] not in SKIP
    ]
    found: dict[str, type[BaseException]] = {}
    for mod in mods:
        for _name, obj in inspect.getmembers(mod, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.split(".")[0] == top:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


@pytest.mark.parametrize(("pkg", "errors", "root", "strays"), TREES, ids=IDS)
def test_the_walk_finds_the_known_strays(
    pkg: ModuleType, errors: ModuleType, root: type, strays: set[str]
) -> None:
    assert strays <= {cls.__name__ for cls in _error_classes(pkg).values()}


@pytest.mark.parametrize(("pkg", "errors", "root", "strays"), TREES, ids=IDS)
def test_every_error_class_inherits_from_the_root(
    pkg: ModuleType, errors: ModuleType, root: type, strays: set[str]
) -> None:
    assert [w for w, cls in _error_classes(pkg).items() if not issubclass(cls, root)] == []


@pytest.mark.parametrize(("pkg", "errors", "root", "strays"), TREES, ids=IDS)
def test_every_error_class_is_in_the_tree_docstring(
    pkg: ModuleType, errors: ModuleType, root: type, strays: set[str]
) -> None:
    doc = errors.__doc__ or ""
    missing = [
        where
        for where, cls in _error_classes(pkg).items()
        if not re.search(rf"(?<![\w.]){re.escape(cls.__name__)}\b", doc)
    ]
    assert missing == []
