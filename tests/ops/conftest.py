"""Shared by the ops tests: a stand-in for systemd's notify socket."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest


class NotifySocket:
    """A stand-in for systemd's notify socket: records every datagram with its arrival time."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._recv, daemon=True)
        self._thread.start()

    def _recv(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data.decode()))

    def times(self, field: str, since: float = 0.0) -> list[float]:
        return [t for t, m in list(self.messages) if field in m.split("\n") and t >= since]

    def wait_for(self, field: str, timeout: float) -> float:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            hits = self.times(field)
            if hits:
                return hits[0]
            time.sleep(0.01)
        raise AssertionError(f"no {field} within {timeout} s; got {self.messages}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.sock.close()


@pytest.fixture
def notify_sock() -> Iterator[NotifySocket]:
    d = tempfile.mkdtemp(prefix="rigctl-notify-", dir="/tmp")  # short: AF_UNIX paths <= 107 bytes
    ns = NotifySocket(os.path.join(d, "notify.sock"))
    yield ns
    ns.close()
    os.unlink(ns.address)
    os.rmdir(d)


