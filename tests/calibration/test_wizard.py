"""The wizard driven end to end in a real terminal (a pty, via pexpect), as an installer would."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect

from rigctl.calibration.store import read_file

from .conftest import NAMES, write_config

ROOT = Path(__file__).resolve().parents[2]


def spawn(tmp_path: Path, *args: str) -> pexpect.spawn:
    cfg = write_config(tmp_path / "rig.toml")
    env = dict(os.environ, TERM="xterm", COLUMNS="200", LINES="50")
    return pexpect.spawn(sys.executable, ["-m", "rigctl", "calibrate", "--standalone",
                                          "--config", str(cfg), "--state-dir",
                                          str(tmp_path / "state"), *args],
                         cwd=str(ROOT), env=env, encoding="utf-8", timeout=30,
                         dimensions=(50, 200))


def test_the_wizard_reaches_a_committed_verified_calibration(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    child.logfile_read = (tmp_path / "wizard.log").open("w")
    try:
        child.expect("rig 'sim-rig' \\(sim backend\\)")
        child.expect("in force now: config defaults \\(not calibrated\\)")
        child.expect("Your name")
        child.sendline("Pat Installer")
        child.expect(r"Known weights you will hang, in kg, separated by spaces \[10 25\]")
        child.sendline("")
        child.expect("Step 1 of 4 - tare")
        child.expect("Press Enter when the bars are empty and still.")
        child.expect(r"bar_a_left +-?\d+\.\d\d kg")  # the live reading
        child.sendline("")
        child.expect(r"\[#+\.*\] +\d\.\d s  tare")  # a progress bar while sampling
        for m in NAMES:
            child.expect(f"{m}: zero -?[\\d,]+ counts, spread 0\\.\\d+ kg")
        for m in NAMES:
            for kg in ("10", "25"):
                child.expect(f"Hang {kg} kg on {m}, let it settle, press Enter")
                child.sendline("")
                child.expect(f"{m} {kg} kg: [\\d,]+\\.\\d counts")
        child.expect("Step 3 of 4 - the fit")
        for m in NAMES:
            child.expect(f"{m} +-?[\\d,]+\\.\\d +[\\d,]+\\.\\d  0:[+-]0\\.\\d+  10:[+-]0\\.\\d+"
                         f"  25:[+-]0\\.\\d+")
        child.expect("every residual is within the 0.2 kg tolerance")
        child.expect(r"Commit this calibration in the name of Pat Installer\? \(y/n\) \[n\]")
        child.sendline("y")
        child.expect("Committed: calibration v1, in force now.")
        child.expect(r"Verification weight in kg \(empty = skip\) \[15\]")
        child.sendline("")
        for m in NAMES:
            child.expect(f"Hang 15 kg on {m}, let it settle, press Enter.")
            child.sendline("")
            child.expect(f"verify {m}: known 15 kg, measured 1[45]\\.\\d+ kg, error "
                         r"[+-]0\.\d+ kg \([+-]0\.\d+ %\) - pass")
        child.expect("Report: ")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    cal = read_file(tmp_path / "state" / "calibration.json")
    assert cal is not None and cal.current is not None
    assert (cal.version, cal.current.installer) == (1, "Pat Installer")
    assert len(cal.current.verifications) == 4
    assert all(v["pass"] for v in cal.current.verifications)
    page = (tmp_path / "state" / "calibration-v1.html").read_text()
    assert page.count("<svg") == 4 and "Every mount verified within" in page
    rep = json.loads((tmp_path / "state" / "calibration-v1.json").read_text())
    assert rep["verdict"]["all_verified_within_tolerance"] is True


def test_quitting_the_wizard_commits_nothing(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    try:
        child.expect("Your name")
        child.sendline("Pat")
        child.expect("Known weights")
        child.sendline("10")
        child.expect("at least 2 different weights are needed")
        child.sendline("10 500")
        child.expect("each weight must be 0.1-100 kg")
        child.sendline("q")
        child.expect("stopped: stopped by the installer")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 1
    assert read_file(tmp_path / "state" / "calibration.json") is None
