"""Record the orders network once, outside any event loop (async tests then copy it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .data import prime_orders


@pytest.fixture(autouse=True, scope="session")
def _orders_recorded() -> Iterator[None]:
    prime_orders()
    yield
