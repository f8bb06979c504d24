"""The API tests' rigs: real ``rigctl core`` + ``rigctl api`` processes (tests/support/rig.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.rig import Rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with Rig(tmp_path).running() as r:
        yield r


@pytest.fixture(scope="module")
def shared_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """One core + API for the tests of a module that only read or add records.

    Its failed-token limit is out of reach: these tests send hundreds of bad tokens
    on purpose (the limit has its own test).
    """
    rig = Rig(tmp_path_factory.mktemp("rig"), api_args=("--auth-fail-limit", "1000000"))
    with rig.running() as r:
        yield r
