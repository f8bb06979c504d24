"""``rigctl core`` stops on SIGTERM / SIGINT whenever they come: outputs off, socket gone.

A core once ignored SIGTERM until kill -9: its handler called ``Event.set``,
which deadlocks when the signal lands while the main thread is inside
``Event.wait`` on the same event (found again here with volleys of SIGTERM and
SIGINT right after start-up: 3 hangs in 120 starts). These tests start real
cores and signal them at random instants: idle, in a volley right at the ready
line, during a session with a subscriber connected, during a calibration capture.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from rigctl.config import DEFAULT_SIM_CONFIG
from rigctl.service.signals import StopSignals
from tests.support.rig import core_request

EXIT_WITHIN_S = 5.0


def test_a_signal_before_the_wait_is_not_lost_and_old_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGUSR1)
    stop = StopSignals([signal.SIGUSR1]).install()
    try:
        assert stop.wait(0.02) is False
        os.kill(os.getpid(), signal.SIGUSR1)
        t0 = time.monotonic()
        assert stop.wait(5.0) is True
        assert time.monotonic() - t0 < 1.0
        assert stop.received == signal.SIGUSR1
        assert stop.wait() is True  # stays set
    finally:
        stop.close()
    assert signal.getsignal(signal.SIGUSR1) is before


def test_a_volley_of_signals_while_the_main_thread_waits_never_hangs(tmp_path: Path) -> None:
    # The main thread enters and leaves wait() all the time, as rigctl run does, while
    # another thread fires SIGTERM/SIGINT at it; then it must see the stop at once.
    script = tmp_path / "volley.py"
    script.write_text(textwrap.dedent("""
        import os, random, signal, sys, threading, time
        from rigctl.service.signals import StopSignals
        stop = StopSignals().install()
        def fire():
            for _ in range(3000):
                os.kill(os.getpid(), random.choice([signal.SIGTERM, signal.SIGINT]))
                time.sleep(random.uniform(0, 0.0002))
        threading.Thread(target=fire, daemon=True).start()
        n = 0
        while n < 20000:
            stop.wait(0)
            n += 1
        assert stop.wait(5), "the stop was lost"
        print("stopped by", stop.received, flush=True)
    """))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=30, cwd=Path(__file__).resolve().parents[2])
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("stopped by ")


def _start(state: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "rigctl", "core", "--config", str(DEFAULT_SIM_CONFIG),
             "--state-dir", str(state), "--no-scenario"], stdout=out, stderr=subprocess.STDOUT)


def _wait_ready(p: subprocess.Popen[bytes], log: Path) -> None:
    end = time.monotonic() + 20
    while b"rigctl core: sim-rig" not in log.read_bytes():
        assert p.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < end, log.read_text(errors="replace")
        time.sleep(0.002)


def _subscribe(state: Path) -> socket.socket:
    """What the API process does: one connection subscribed to the status stream."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(state / "core.sock"))
    s.sendall(json.dumps({"id": 1, "op": "subscribe", "args": {}}).encode() + b"\n")
    return s


def test_rigctl_core_stops_promptly_with_outputs_off_on_a_signal_at_random_instants(
        tmp_path: Path) -> None:
    rnd = random.Random(os.getpid())
    kinds = ["idle", "volley", "session", "calibration"] * 5
    rnd.shuffle(kinds)
    for i, kind in enumerate(kinds):
        state, log = tmp_path / f"state{i}", tmp_path / f"core{i}.log"
        p = _start(state, log)
        sub: socket.socket | None = None
        capture: threading.Thread | None = None
        try:
            _wait_ready(p, log)
            if kind == "volley":  # right at the ready line: SIGTERM and SIGINT, many times
                for _ in range(rnd.randrange(5, 60)):
                    if p.poll() is not None:
                        break
                    p.send_signal(rnd.choice([signal.SIGTERM, signal.SIGINT]))
                    time.sleep(rnd.uniform(0, 0.0003))
            else:
                if kind == "session":
                    sub = _subscribe(state)
                    core_request(state, "session.start", {"limit_kg": 40, "therapist_kg": 70})
                elif kind == "calibration":  # a 1 s tare capture in flight when the signal lands
                    def tare(st: Path = state) -> None:
                        # cut off by the stop, or refused: either is fine here
                        with contextlib.suppress(OSError, RuntimeError):
                            core_request(st, "calibration.tare", timeout=10)

                    capture = threading.Thread(target=tare, daemon=True)
                    capture.start()
                time.sleep(rnd.uniform(0, 1.0))
                p.send_signal(rnd.choice([signal.SIGTERM, signal.SIGINT]))
            t0 = time.monotonic()
            try:
                code = p.wait(EXIT_WITHIN_S)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"cycle {i} ({kind}): still running {EXIT_WITHIN_S} s "
                                     "after the signal") from None
            took = time.monotonic() - t0
            out = log.read_text(errors="replace")
            assert code == 0, f"cycle {i} ({kind}): exit {code}\n{out[-2000:]}"
            assert "rigctl core: stopped, outputs off." in out, f"cycle {i} ({kind})\n{out}"
            assert "Traceback" not in out, out
            assert not (state / "core.sock").exists(), f"cycle {i} ({kind}): socket left"
            if kind == "session":  # kept for the next start to resume
                assert (state / "active_session.json").exists()
            print(f"cycle {i:2d} {kind:<12} exit 0 after {took:.2f} s")
        finally:
            if sub is not None:
                sub.close()
            if p.poll() is None:
                p.kill()
                p.wait(5)
            if capture is not None:
                capture.join(10)


def test_a_second_core_is_refused_with_one_line_and_the_first_keeps_its_socket(
        tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "first.log"
    first = _start(state, log)
    try:
        _wait_ready(first, log)
        second = subprocess.run(
            [sys.executable, "-m", "rigctl", "core", "--config", str(DEFAULT_SIM_CONFIG),
             "--state-dir", str(state), "--no-scenario"], capture_output=True, text=True,
            timeout=30)
        assert second.returncode == 1
        assert "rigctl: another rigctl core is running on" in second.stderr
        assert "Traceback" not in second.stderr
        # the API can still reach the first core: its socket was left alone
        assert core_request(state, "ping")["pid"] == first.pid
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(EXIT_WITHIN_S) == 0
    assert not (state / "core.sock").exists()


def test_an_unreadable_session_file_stops_start_up_with_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "active_session.json").write_text('{"version": 1, "session_id": ')
    p = subprocess.run(
        [sys.executable, "-m", "rigctl", "core", "--config", str(DEFAULT_SIM_CONFIG),
         "--state-dir", str(state), "--no-scenario"], capture_output=True, text=True,
        timeout=30)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr, p.stderr
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("rigctl: ")]
    assert len(errors) == 1 and "unreadable active-session file" in errors[0], p.stderr
    assert "move the file away" in errors[0]
    assert "rigctl core: stopped, outputs off." in p.stdout
    assert (state / "active_session.json").exists()  # never deleted: it is the evidence
