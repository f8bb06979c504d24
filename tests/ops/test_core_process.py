"""``rigctl core`` as systemd runs it: NOTIFY_SOCKET and WATCHDOG_USEC in its environment."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rigctl.config import DEFAULT_SIM_CONFIG
from tests.ops.conftest import NotifySocket


def test_core_process_is_ready_after_its_socket_listens_then_pings_and_says_stopping(
        tmp_path: Path, notify_sock: NotifySocket) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "NOTIFY_SOCKET": notify_sock.address, "WATCHDOG_USEC": "400000"}
    env.pop("WATCHDOG_PID", None)
    log = open(tmp_path / "core.log", "wb")  # noqa: SIM115 - the process owns it
    proc = subprocess.Popen([sys.executable, "-m", "rigctl", "core", "--config",
                             str(DEFAULT_SIM_CONFIG), "--state-dir", str(state)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        t_ready = notify_sock.wait_for("READY=1", 20)
        # READY means the API can connect: the socket is there before the datagram
        assert (state / "core.sock").exists()
        ready_msg = next(m for _, m in notify_sock.messages if "READY=1" in m)
        assert "STATUS=state " in ready_msg
        t_first = notify_sock.wait_for("WATCHDOG=1", 3)
        deadline = time.monotonic() + 5
        while len(notify_sock.times("WATCHDOG=1")) < 4:
            assert proc.poll() is None, (tmp_path / "core.log").read_text()
            assert time.monotonic() < deadline, notify_sock.messages
            time.sleep(0.05)
        pings = notify_sock.times("WATCHDOG=1")
        assert t_first > t_ready
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        assert all(0.1 < g < 0.6 for g in gaps), gaps  # every 0.2 s, half of WATCHDOG_USEC
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert notify_sock.times("STOPPING=1")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        log.close()
