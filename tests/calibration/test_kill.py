"""kill -9 at random instants while calibrations are committed: never a broken file.

The child commits back to back (every write path: draft, commit, re-tare,
verification) and prints each acknowledged version; the parent kills it after
a random delay, then reads the file as the next core start would. It must load
(checksum, versions 1..n), hold at least every acknowledged commit, and the
next commit must clean up the temp file a killed writer left behind.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rigctl.calibration.store import CalibrationStore, read_file

ROOT = Path(__file__).resolve().parents[2]


def kill_during_commits(mode: str, state: Path, delay_s: float) -> int:
    """Run the worker, kill -9 it ``delay_s`` after it started committing; last acked version."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.calibration.kill_worker", mode,
                             str(state)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    acked = 0
    try:
        deadline = time.monotonic() + 20
        while b"go\n" not in buf:  # started: the file may not exist yet
            assert time.monotonic() < deadline, "worker did not start"
            r, _, _ = select.select([fd], [], [], 1.0)
            if r:
                chunk = os.read(fd, 4096)
                assert chunk, "worker exited early"
                buf += chunk
        time.sleep(delay_s)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        buf += proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    lines = buf.decode().split("\n")
    # only complete lines were acknowledged (the last one may be cut by the kill)
    for line in lines[:-1]:
        if line.strip().isdigit():
            acked = int(line)
    return acked


def check_after_kill(state: Path, acked: int) -> None:
    cal = read_file(state / "calibration.json")  # raises if torn, bad checksum, bad versions
    if acked == 0 and cal is None:
        return
    assert cal is not None
    assert cal.version >= acked, "an acknowledged commit was lost"
    assert cal.version <= acked + 1
    cur = cal.current
    assert cur is not None and cur.installer == f"installer {cur.version}"
    assert set(cur.mounts) == {"bar_a_left", "bar_a_right", "bar_b_left", "bar_b_right"}
    # the next writer clears what the killed one left half-written
    store = CalibrationStore(state)
    store.commit("after", "sim-rig", cur.mounts)
    assert not list(state.glob(".*.tmp"))
    assert store.load().version == cal.version + 1


def test_kill_9_at_random_instants_of_store_commits(tmp_path: Path) -> None:
    rng = random.Random(5)
    runs = 40
    mid_write = 0
    for k in range(runs):
        state = tmp_path / f"run{k}"
        acked = kill_during_commits("store", state, rng.uniform(0.0, 0.08))
        mid_write += bool(list(state.glob(".*.tmp")))
        check_after_kill(state, acked)
    # the kills really landed inside writes (a temp file was left), not only between them
    assert mid_write >= 3


@pytest.mark.parametrize("seed", range(6))
def test_kill_9_of_a_core_committing_calibrations(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    acked = kill_during_commits("core", tmp_path, rng.uniform(0.02, 0.3))
    check_after_kill(tmp_path, acked)
