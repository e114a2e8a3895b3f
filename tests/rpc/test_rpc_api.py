"""The public surface of am_rpc: what ``__init__`` exports resolves, and codec users stay light."""

from __future__ import annotations

import subprocess
import sys

import am_rpc


def test_public_names_resolve() -> None:
    for name in am_rpc.__all__:
        assert getattr(am_rpc, name) is not None, name
    assert callable(am_rpc.serve) and callable(am_rpc.connect)
    assert callable(am_rpc.serve_async) and callable(am_rpc.connect_async)


def test_codec_import_does_not_pull_the_rpc_stack() -> None:
    code = (
        "import sys, am_rpc.codec; print('am_rpc.client' in sys.modules, 'am_core' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
