"""`rigctl run` and `rigctl replay` as a user runs them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.core.traces import make_trace, step

RIGCTL = [sys.executable, "-m", "rigctl"]


def test_run_shows_the_demo_transitions_within_10_s_and_stops_cleanly(tmp_path: Path) -> None:
    t0 = time.monotonic()
    with socket.socket() as sock:  # a free port: 8080 may be taken on a shared machine
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    p = subprocess.Popen([*RIGCTL, "run", "--state-dir", str(tmp_path), "--seconds", "11",
                          "--port", str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert time.monotonic() - t0 < 40
    shown = [(float(line.split()[0]), line.split()[2]) for line in out.splitlines()
             if " s  " in line]
    assert [s for _, s in shown[:2]] == ["ok", "caution"], out
    assert shown[1][0] < 10.0
    assert "outputs off" in out


def test_replay_prints_transitions_then_summary(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(make_trace(step(1.0, 20.0, 49.0), 2.0))
    r = subprocess.run([*RIGCTL, "replay", str(trace), "--limit-kg", "40", "--therapist-kg",
                        "70"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["state"] for x in lines[:-1]] == ["ok", "over"]
    assert set(lines[0]) == {"t_s", "state", "foot_load_kg"}
    summary = lines[-1]["summary"]
    assert summary["peak_foot_load_kg"] > 48 and summary["counts"] == {"ok": 1, "over": 1}


def test_replay_raw_units_use_the_config_calibration(tmp_path: Path) -> None:
    # config/sim.toml: bar_a_left offset 8000, 22000 counts/kg, etc.
    cal = [(8000, 22000), (-12000, 21500), (5000, 22500), (0, 22000)]
    rows = ["t_s,bar_a_left,bar_a_right,bar_b_left,bar_b_right"]
    for k in range(160):
        kg = 7.5 if k < 80 else 5.0  # bar 30 -> foot 40 ... bar 20 -> foot 50
        rows.append(f"{k / 80:.4f}," + ",".join(
            str(round(o + (kg + (0.005 if (k + i) % 2 else -0.005)) * s))
            for i, (o, s) in enumerate(cal)))
    trace = tmp_path / "raw.csv"
    trace.write_text("\n".join(rows) + "\n")
    r = subprocess.run([*RIGCTL, "replay", str(trace), "--units", "raw", "--limit-kg", "45",
                        "--therapist-kg", "70"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["state"] for x in lines[:-1]] == ["ok", "caution", "over"]
    assert abs(lines[-1]["summary"]["peak_foot_load_kg"] - 50.0) < 0.05


def test_bad_trace_is_one_line_naming_row_and_column(tmp_path: Path) -> None:
    trace = tmp_path / "bad.csv"
    trace.write_text("t_s,bar_a_left,bar_a_right,bar_b_left,bar_b_right\n0,1,2,3,4\n"
                     "0.0125,1,2,heavy,4\n")
    r = subprocess.run([*RIGCTL, "replay", str(trace), "--limit-kg", "40", "--therapist-kg",
                        "70"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == (f"rigctl: {trace}: row 3, column 'bar_b_left': 'heavy' is not "
                                "a number, empty (no sample) or 'sat'")


def test_out_of_range_limit_is_refused(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(make_trace(lambda t: 10.0, 0.1))
    r = subprocess.run([*RIGCTL, "replay", str(trace), "--limit-kg", "500", "--therapist-kg",
                        "70"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--limit-kg: 500 is outside the allowed 5-120 kg" in r.stderr
