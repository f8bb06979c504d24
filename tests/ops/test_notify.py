"""sd_notify: READY=1 after the first good tick, watchdog pings only while the loop is healthy."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rigctl.commands.core import build_core
from rigctl.core.loop import LoopRunner
from rigctl.core.runtime import Core
from rigctl.service.notify import (
    LoopProbe,
    Notifier,
    ServiceNotifier,
    loop_health,
    notify_address,
    watchdog_interval_s,
)
from tests.ops.conftest import NotifySocket


@pytest.fixture
def core() -> Iterator[Core]:
    c = build_core(None)  # the shipped sim config: sim rig, mock pins
    c.start()
    yield c
    c.loop.stall_s = 0.0
    c.stop()


def test_notify_address_plain_abstract_and_unsupported() -> None:
    assert notify_address({"NOTIFY_SOCKET": "/run/systemd/notify"}) == "/run/systemd/notify"
    assert notify_address({"NOTIFY_SOCKET": "@sd-notify-1"}) == "\0sd-notify-1"
    assert notify_address({"NOTIFY_SOCKET": "vsock:2:1234"}) is None
    assert notify_address({}) is None


def test_watchdog_interval_is_half_of_watchdog_usec_and_only_for_our_pid() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "1000000"}) == 0.5
    assert watchdog_interval_s({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "42"}, pid=42) == 0.5
    assert watchdog_interval_s({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "41"}, pid=42) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "junk"}) is None
    assert watchdog_interval_s({}) is None


def test_loop_health_rule() -> None:
    ms = 1_000_000
    prev = LoopProbe(good_ticks=100, last_tick_ns=1000 * ms)
    assert loop_health(prev, LoopProbe(200, 1495 * ms), 1500 * ms, 250 * ms) is None
    assert loop_health(prev, LoopProbe(100, 1000 * ms), 1500 * ms, 250 * ms) == (
        "no good tick since the last check")
    assert loop_health(prev, LoopProbe(101, 1100 * ms), 1500 * ms, 250 * ms) == (
        "last tick 400 ms ago")


def test_notifier_reaches_an_abstract_socket() -> None:
    name = f"\0rigctl-test-{os.getpid()}-{time.monotonic_ns()}"
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(name)
    rx.settimeout(2)
    try:
        n = Notifier.from_env({"NOTIFY_SOCKET": "@" + name[1:]})
        assert n.send("READY=1", "STATUS=hello")
        assert rx.recv(100) == b"READY=1\nSTATUS=hello"
        n.close()
    finally:
        rx.close()


def test_notifier_without_socket_or_with_a_dead_one_never_raises(tmp_path: Path) -> None:
    assert not Notifier.from_env({}).send("READY=1")
    dead = Notifier(str(tmp_path / "nobody-listens.sock"))
    assert not dead.send("WATCHDOG=1")
    assert dead.errors == 1


def test_core_sends_ready_then_pings_at_half_watchdog_usec(
        core: Core, notify_sock: NotifySocket) -> None:
    env = {"NOTIFY_SOCKET": notify_sock.address, "WATCHDOG_USEC": "200000"}
    sn = ServiceNotifier.from_env(core.loop, status=lambda: "state idle", environ=env)
    assert sn.watchdog_s == pytest.approx(0.1)
    sn.start()
    try:
        t_ready = notify_sock.wait_for("READY=1", 5)
        assert core.loop.ticks - core.loop.tick_errors > 0
        time.sleep(1.05)
        pings = notify_sock.times("WATCHDOG=1", since=t_ready)
        # one ping per 0.1 s: about 10 in the second (the thread is not real-time)
        assert 6 <= len(pings) <= 11, pings
        assert all("STATUS=state idle" in m for _, m in notify_sock.messages)
    finally:
        sn.stop()
    assert notify_sock.wait_for("STOPPING=1", 2)


def test_a_stalled_loop_stops_the_pings_and_a_recovered_one_resumes_them(
        core: Core, notify_sock: NotifySocket) -> None:
    sn = ServiceNotifier(core.loop, Notifier(notify_sock.address), watchdog_s=0.1)
    sn.start()
    try:
        notify_sock.wait_for("READY=1", 5)
        notify_sock.wait_for("WATCHDOG=1", 2)
        core.loop.stall_s = 1.5  # every tick now takes 1.5 s: the loop is hung
        time.sleep(0.4)  # the tick in flight ends, then the pinger notices
        t_stalled = time.monotonic()
        time.sleep(0.8)
        assert notify_sock.times("WATCHDOG=1", since=t_stalled) == []
        assert sn.unhealthy is not None
        assert any(m.startswith("STATUS=control loop stalled") for _, m in notify_sock.messages)
        core.loop.stall_s = 0.0
        t_recover = time.monotonic()
        deadline = time.monotonic() + 3
        while not notify_sock.times("WATCHDOG=1", since=t_recover):
            assert time.monotonic() < deadline, "pings did not resume after the stall"
            time.sleep(0.02)
    finally:
        sn.stop()


def test_ready_waits_for_a_good_tick_not_just_any_tick(notify_sock: NotifySocket) -> None:
    broken = threading.Event()
    broken.set()

    def tick(now_ns: int) -> None:
        if broken.is_set():
            raise RuntimeError("hardware not there yet")

    loop = LoopRunner(tick, rate_hz=200, sched_fifo=False)
    sn = ServiceNotifier(loop, Notifier(notify_sock.address), watchdog_s=0.05)
    loop.start()
    sn.start()
    try:
        assert loop.first_tick.wait(2)
        time.sleep(0.2)
        assert loop.ticks > 10
        assert notify_sock.messages == []  # ticks, but none good: not ready, no pings
        broken.clear()
        notify_sock.wait_for("READY=1", 2)
        notify_sock.wait_for("WATCHDOG=1", 2)
    finally:
        sn.stop()
        loop.stop()
