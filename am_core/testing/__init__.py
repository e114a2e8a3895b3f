"""Testing helpers: assertions on machines and a transition recorder; the pytest fixtures live in
:mod:`am_core.testing.plugin`, loaded by pytest through the ``pytest11`` entry point
(docs/testing.md). Importing this package does not import pytest."""

from .asserts import assert_clock, assert_is, assert_no_exception_ever, assert_not
from .recorder import TxRecord, TxRecorder, recorder_of, render_last

__all__ = [
    "TxRecord",
    "TxRecorder",
    "assert_clock",
    "assert_is",
    "assert_no_exception_ever",
    "assert_not",
    "recorder_of",
    "render_last",
]
