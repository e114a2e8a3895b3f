from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import PairFactory


@pytest.fixture
def make_pair() -> Iterator[PairFactory]:
    factory = PairFactory()
    yield factory
    factory.close()
