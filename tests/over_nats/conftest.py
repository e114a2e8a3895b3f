"""A real ``nats-server`` (JetStream on, stored in a temp dir) on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from am_rpc.nats.local_server import LocalNatsServer


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[LocalNatsServer]:
    srv = LocalNatsServer(store_dir=tmp_path / "js")
    srv.start()
    try:
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture
def nats_core_server() -> Iterator[LocalNatsServer]:
    """A server without JetStream (core NATS only)."""
    srv = LocalNatsServer(jetstream=False)
    srv.start()
    try:
        yield srv
    finally:
        srv.cleanup()
