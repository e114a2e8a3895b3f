"""Every error class am_core defines, in any module, inherits from AmError and is in the tree at the
top of am_core.errors (the httpx-style map a reader looks up)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import am_core
import am_core.errors as errors_mod
from am_core.errors import AmError

SKIP = {"__main__"}


def _error_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    mods = [am_core] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(am_core.__path__, "am_core.")
        if info.name.rsplit(".", 1)[-1] not in SKIP
    ]
    for mod in mods:
        for _name, obj in inspect.getmembers(mod, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.split(".")[0] == "am_core":
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_walk_finds_the_known_strays() -> None:
    names = {cls.__name__ for cls in _error_classes().values()}
    assert {"NoLoopError", "CtxCanceledError", "HistoryError"} <= names


def test_every_error_class_inherits_from_the_root() -> None:
    wrong = [where for where, cls in _error_classes().items() if not issubclass(cls, AmError)]
    assert wrong == []


def test_every_error_class_is_in_the_tree_docstring() -> None:
    doc = errors_mod.__doc__ or ""
    missing = [
        where
        for where, cls in _error_classes().items()
        if not re.search(rf"(?<![\w.]){re.escape(cls.__name__)}\b", doc)
    ]
    assert missing == []
