"""`rigctl run` as a developer uses it: both processes, the URL, Ctrl-C stops everything."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.rig import RIGCTL, free_port


def test_run_starts_core_and_api_prints_the_url_and_ctrl_c_stops_both(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state"
    p = subprocess.Popen([*RIGCTL, "run", "--state-dir", str(state), "--port", str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert p.stdout is not None
        lines = []
        end = time.monotonic() + 40
        while time.monotonic() < end:
            line = p.stdout.readline()
            lines.append(line)
            if "demo session" in line:
                break
        out = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in out and "/docs" in out, out
        token = out.split("RIGCTL_TOKEN=")[1].split()[0]
        auth = {"Authorization": f"Bearer {token}"}
        st = httpx.get(f"http://127.0.0.1:{port}/api/v1/status", headers=auth).json()
        assert st["limit_kg"] == 40 and st["therapist_weight_kg"] == 70
        p.send_signal(signal.SIGINT)  # what Ctrl-C does
        rest, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0
    assert "demo session stopped" in rest and "outputs off" in rest
    try:
        httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
        raise AssertionError("the API still answers after Ctrl-C")
    except httpx.ConnectError:
        pass
    assert not (state / "core.sock").exists()
    db = sqlite3.connect(state / "rigctl.db")
    try:
        rows = db.execute("SELECT status, duration_s FROM sessions").fetchall()
        revoked = db.execute("SELECT revoked_at FROM tokens").fetchall()
    finally:
        db.close()
    assert len(rows) == 1 and rows[0][0] == "stopped" and rows[0][1] > 0
    assert all(r[0] is not None for r in revoked)  # the dev token dies with the run
