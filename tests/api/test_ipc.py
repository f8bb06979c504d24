"""The core <-> API socket: requests, errors, the status stream, reconnection, one core only."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from rigctl.ipc.client import CoreClient, CoreUnavailable
from rigctl.ipc.protocol import IpcError
from rigctl.ipc.server import CoreAlreadyRunning, IpcServer


def make_server(path: Path, state: dict[str, Any]) -> IpcServer:
    srv = IpcServer(path, lambda: {"state": state["state"]}, status_hz=50)

    def add(args: dict[str, Any]) -> Any:
        if not isinstance(args.get("a"), int):
            raise IpcError("bad_request", "a: an integer", "a")
        return args["a"] + 1

    srv.register("add", add)
    srv.register("boom", lambda args: 1 / 0)
    return srv


def test_requests_errors_and_the_status_stream(tmp_path: Path) -> None:
    path = tmp_path / "core.sock"
    srv = make_server(path, {"state": "ok"})
    srv.start()

    async def scenario() -> None:
        client = CoreClient(path)
        await client.start()
        assert await client.wait_connected(3)
        assert await client.request("add", {"a": 41}) == 42
        with pytest.raises(IpcError) as bad:
            await client.request("add", {"a": "x"})
        assert (bad.value.code, bad.value.field) == ("bad_request", "a")
        with pytest.raises(IpcError) as unknown:
            await client.request("calibration.tare")
        assert unknown.value.code == "unknown_op"
        with pytest.raises(IpcError) as boom:
            await client.request("boom")
        assert boom.value.code == "internal" and "ZeroDivisionError" in boom.value.message
        q = client.subscribe()
        srv.broadcast("transition", {"state": "over"})
        kinds = set()
        for _ in range(10):
            ev = await asyncio.wait_for(q.get(), 2)
            kinds.add(ev["event"])
        assert kinds == {"status", "transition"}
        assert client.up and client.latest_status == {"state": "ok"}
        await client.stop()

    try:
        asyncio.run(scenario())
    finally:
        srv.stop()


def test_the_client_reports_the_core_gone_at_once_and_reconnects_by_itself(
        tmp_path: Path) -> None:
    path = tmp_path / "core.sock"
    state = {"state": "ok"}
    srv = make_server(path, state)
    srv.start()

    async def scenario() -> None:
        nonlocal srv
        client = CoreClient(path)
        connects = 0

        async def hook() -> None:
            nonlocal connects
            connects += 1

        client.on_connect(hook)
        q = client.subscribe()
        await client.start()
        assert await client.wait_connected(3)
        srv.stop()
        for _ in range(100):
            ev = await asyncio.wait_for(q.get(), 2)
            if ev["event"] == "core":
                break
        assert ev["data"] == {"up": False}
        assert not client.up
        with pytest.raises(CoreUnavailable):
            await client.request("add", {"a": 1})
        state["state"] = "caution"
        srv = make_server(path, state)
        srv.start()
        assert await client.wait_connected(3)
        assert await client.request("add", {"a": 1}) == 2
        assert connects == 2
        for _ in range(100):
            await asyncio.sleep(0.02)
            if client.up:
                break
        assert client.latest_status == {"state": "caution"}
        await client.stop()

    try:
        asyncio.run(scenario())
    finally:
        srv.stop()


def test_a_second_core_is_refused_and_a_dead_cores_socket_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "core.sock"
    first = make_server(path, {"state": "ok"})
    first.start()
    try:
        with pytest.raises(CoreAlreadyRunning):
            make_server(path, {"state": "ok"}).start()
    finally:
        first.stop()
    # a socket file left by a killed core: bound, nobody listening
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    assert path.exists()
    again = make_server(path, {"state": "ok"})
    again.start()
    again.stop()


def test_a_malformed_line_gets_an_error_answer_and_the_connection_stays(tmp_path: Path) -> None:
    path = tmp_path / "core.sock"
    srv = make_server(path, {"state": "ok"})
    srv.start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(path))
            s.sendall(b"{not json\n" + b'{"id": 2, "op": "add", "args": {"a": 1}}\n')
            buf = b""
            while buf.count(b"\n") < 2:
                buf += s.recv(4096)
        first, second = buf.split(b"\n")[:2]
        assert b'"ok":false' in first and b"bad_request" in first
        assert second == b'{"id":2,"ok":true,"result":2}'
    finally:
        srv.stop()
