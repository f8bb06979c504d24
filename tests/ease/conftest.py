"""A real core + API (tests/support/rig.py) with the sim's comfort button, and an SSE reader."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.rig import Rig


@pytest.fixture(scope="module")
def comfort_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """One core + API for the module: each test stops the sessions it starts."""
    with Rig(tmp_path_factory.mktemp("comfort")).running() as r:
        yield r


@pytest.fixture
def own_rig(tmp_path: Path) -> Iterator[Rig]:
    """A core + API for a test that kills processes."""
    with Rig(tmp_path).running() as r:
        yield r


class Events:
    """Reads ``/api/v1/stream`` in a thread; ``of(kind)`` gives the data of that kind so far."""

    def __init__(self, rig: Rig, role: str = "viewer") -> None:
        self.items: list[tuple[str, Any]] = []
        self._client = rig.client(role)
        self._stop = threading.Event()
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self._client.stream("GET", "/api/v1/stream") as r:
            kind = ""
            for line in r.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    self.items.append((kind, json.loads(line[6:])))
                    self._first.set()
                if self._stop.is_set():
                    return

    def of(self, kind: str) -> list[Any]:
        return [d for k, d in list(self.items) if k == kind]

    def __enter__(self) -> Events:
        self._thread.start()
        assert self._first.wait(5), "the stream sent nothing"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._client.close()


def new_client(c: httpx.Client, limit: float = 40.0, name: str = "Client C") -> int:
    r = c.post("/api/v1/clients", json={"display_name": name, "foot_load_limit_kg": limit,
                                        "cleared": True})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def start(c: httpx.Client, client_id: int, therapist_kg: float = 70.0) -> str:
    r = c.post("/api/v1/sessions", json={"client_id": client_id,
                                         "therapist_weight_kg": therapist_kg})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])
