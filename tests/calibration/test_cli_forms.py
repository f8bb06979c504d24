"""The script forms of ``rigctl calibrate`` against a running ``rigctl core`` (over its socket)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rigctl.calibration.store import read_file

from .conftest import CalRig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def core_rig(tmp_path: Path) -> Iterator[CalRig]:
    with CalRig(tmp_path).running(api=False) as r:
        yield r


def calibrate(rig: CalRig, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rigctl", "calibrate", *args, "--config",
                           str(rig.config), "--state-dir", str(rig.state_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_a_script_calibrates_through_the_running_core(core_rig: CalRig) -> None:
    r = calibrate(core_rig, "commit", "--installer", "Lee")
    assert r.returncode == 1
    assert r.stderr.strip() == ("rigctl: no calibration in progress: start with a tare "
                                "(nobody on the bars)")
    r = calibrate(core_rig, "tare")
    assert r.returncode == 0, r.stderr
    assert "tare done: bar_a_left" in r.stdout
    for bar in ("a", "b"):
        for kg in ("20", "50"):
            r = calibrate(core_rig, "bar-point", bar, kg)
            assert r.returncode == 0, r.stderr
            assert f"[sim] hanging {float(kg) / 2:g} kg on bar_{bar}_left" in r.stdout
    r = calibrate(core_rig, "preview")
    assert r.returncode == 0 and "every residual is within the 0.2 kg tolerance" in r.stdout
    r = calibrate(core_rig, "commit", "--installer", "Lee")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("committed calibration v1 by Lee")
    r = calibrate(core_rig, "verify", "15", "--mount", "bar_b_right", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout[r.stdout.index("{"):])
    assert abs(res["mounts"]["bar_b_right"]["error_pct"]) < 0.5
    cal = read_file(core_rig.state_dir / "calibration.json")
    assert cal is not None and cal.current is not None and cal.current.installer == "Lee"
    r = calibrate(core_rig, "report", "--out", str(core_rig.state_dir / "handover"))
    assert r.returncode == 0
    assert (core_rig.state_dir / "handover" / "calibration-v1.html").exists()
    r = calibrate(core_rig, "history")
    assert r.stdout.startswith("v1  ") and "Lee  4 mounts, 1 verifications (in force)" in r.stdout


def test_standalone_refuses_while_a_core_runs_and_scripts_say_when_none_does(
        core_rig: CalRig, tmp_path: Path) -> None:
    r = calibrate(core_rig, "status", "--standalone")
    assert r.returncode == 3 and "a rigctl core is running on" in r.stderr
    core_rig.kill("core")
    r = calibrate(core_rig, "status")
    assert r.returncode == 3
    assert "no rigctl core answers on" in r.stderr and "--standalone" in r.stderr


def test_a_mistyped_mount_is_one_line_naming_the_mounts(core_rig: CalRig) -> None:
    assert calibrate(core_rig, "tare").returncode == 0
    r = calibrate(core_rig, "point", "bar_z", "10")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.strip() == ("rigctl: mount: unknown mount 'bar_z'; the rig has bar_a_left, "
                                "bar_a_right, bar_b_left, bar_b_right")
