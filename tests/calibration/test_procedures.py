"""Calibration and weigh-in on a live core over the sim rig (real 200 Hz loop, real files)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from rigctl.calibration.fit import CalibrationRefused
from rigctl.calibration.procedures import CalibrationBusy
from rigctl.calibration.startup import config_defaults
from rigctl.calibration.store import CalibrationStore, MountCalibration, read_file, resolve
from rigctl.core.warning import State

from .conftest import NAMES, Rig, make_config, running_rig


def swing_csv(base: dict[str, float], amplitude_kg: float, period_s: float,
              seconds: float, faults: dict[str, str] | None = None) -> str:
    """Loads swinging around ``base`` (a weight or a therapist that does not hang still)."""
    fault_cols = list(faults or {})
    lines = ["t_s," + ",".join(NAMES) + "".join(f",fault:{m}" for m in fault_cols)]
    steps = int(seconds / (period_s / 4)) + 1
    for k in range(steps):
        t = k * period_s / 4
        phase = (0.0, 1.0, 0.0, -1.0)[k % 4]
        loads = [base.get(m, 0.0) + (phase * amplitude_kg if m in base else 0.0)
                 for m in NAMES]
        cells = [f"{x:.3f}" for x in loads] + [(faults or {})[m] for m in fault_cols]
        lines.append(f"{t:.3f}," + ",".join(cells))
    return "\n".join(lines) + "\n"


def install_true_calibration(rig: Rig) -> None:
    """Commit the sim's hidden truth directly (for tests of what comes after calibrating)."""
    mounts = {n: MountCalibration(rig.sim.true_offset[i], rig.sim.true_scale[i])
              for i, n in enumerate(NAMES)}
    rig.cal.store.commit("test", "sim-rig", mounts)
    rig.cal._apply(resolve(NAMES, config_defaults(rig.core.config), rig.cal.store.load(),
                           "state"))


def test_full_calibration_makes_a_third_weight_read_within_half_a_percent(rig: Rig) -> None:
    # before: the shipped default is off from the sim's hidden truth
    rig.hang({"bar_b_right": 15.0})
    before = rig.cal.verify(15.0, "bar_b_right")
    assert before["calibration_source"] == "config"
    assert abs(before["mounts"]["bar_b_right"]["error_pct"]) > 1.0
    rig.hang({}, settle=True)

    tare = rig.cal.tare()
    assert set(tare["mounts"]) == set(NAMES)
    for m in NAMES:
        for kg in (10.0, 25.0):
            rig.hang({m: kg})
            res = rig.cal.add_point(m, kg)
            assert res["warnings"] == [] and res["saturated"] is False
        rig.hang({})
    preview = rig.cal.preview()
    assert preview["ok"], preview["problems"]
    done = rig.cal.commit("Ana Installer")
    assert done["version"] == 1

    # the record: version, installer, per-mount offset/scale close to the hidden truth
    cal = read_file(rig.state_dir / "calibration.json")
    assert cal is not None and cal.current is not None
    rec = cal.current
    assert (rec.version, rec.installer, rec.rig) == (1, "Ana Installer", "sim-rig")
    for i, m in enumerate(NAMES):
        mc = rec.mounts[m]
        assert mc.scale == pytest.approx(rig.sim.true_scale[i], rel=2e-3)
        assert rig.true_kg(m, mc.offset) == pytest.approx(0.0, abs=0.03)
        assert len(mc.points) == 3 and len(mc.residuals_kg) == 3
    assert rig.core.controller.estimator.offsets == [rec.mounts[m].offset for m in NAMES]
    assert rig.cal.status()["in_force"]["version"] == 1
    assert rig.cal.store.load_draft() is None, "the committed draft is gone"

    # verify with a third weight on every mount
    for m in NAMES:
        rig.hang({m: 15.0})
        v = rig.cal.verify(15.0, m)
        assert abs(v["mounts"][m]["error_pct"]) < 0.5, v
        assert v["pass"] is True and v["calibration_version"] == 1
    rig.hang({m: 5.0 for m in NAMES})
    total = rig.cal.verify(20.0)
    assert abs(total["total"]["error_pct"]) < 0.5
    cal = read_file(rig.state_dir / "calibration.json")
    assert cal is not None and cal.current is not None
    assert len(cal.current.verifications) == 5, "verifications go into the record"


def test_tare_is_refused_when_a_sample_is_faulted(rig: Rig) -> None:
    rig.play(swing_csv({}, 0, 1.0, 3.0, faults={"bar_b_left": "disconnect"}))
    with pytest.raises(CalibrationRefused) as e:
        rig.cal.tare()
    assert str(e.value) == ("tare refused: faulted samples on bar_b_left (stale); fix the "
                            "sensor first")
    assert rig.cal.store.load_draft() is None


def test_tare_is_refused_when_the_spread_is_too_wide(rig: Rig) -> None:
    rig.play(swing_csv({"bar_a_right": 0.5}, 1.0, 0.5, 4.0))
    with pytest.raises(CalibrationRefused,
                       match=r"tare refused: spread too wide \(bar_a_right \d\.\d\d kg; limit "
                             r"0.3 kg over 1 s\): nobody may touch the bars"):
        rig.cal.tare()


def test_points_need_a_tare_a_known_mount_and_a_sane_weight(rig: Rig) -> None:
    with pytest.raises(CalibrationRefused, match="no calibration in progress: start with a "
                                                 "tare"):
        rig.cal.add_point("bar_a_left", 10.0)
    with pytest.raises(CalibrationRefused, match="unknown mount 'bar_z'; the rig has "
                                                 "bar_a_left, bar_a_right"):
        rig.cal.add_point("bar_z", 10.0)
    with pytest.raises(CalibrationRefused, match=r"known_kg 150 is outside the allowed range "
                                                 r"0.1-100 kg \(capacity of bar_a_left\)"):
        rig.cal.add_point("bar_a_left", 150.0)
    with pytest.raises(CalibrationRefused, match="unknown bar 'c'; the rig has bars a, b"):
        rig.cal.add_bar_point("c", 10.0)
    with pytest.raises(CalibrationRefused, match="no calibration in progress"):
        rig.cal.commit("Ana")
    with pytest.raises(CalibrationRefused, match="installer: a name of 1-80 characters"):
        rig.cal.commit("  ")


def test_a_swinging_weight_is_not_captured(tmp_path: Path) -> None:
    cfg = make_config(calibration={"settle_timeout_s": 2.5})
    with running_rig(cfg, tmp_path) as rig:
        rig.cal.tare()
        rig.play(swing_csv({"bar_a_left": 10.0}, 1.0, 0.5, 5.0))
        with pytest.raises(CalibrationRefused) as e:
            rig.cal.add_point("bar_a_left", 10.0)
        msg = str(e.value)
        assert msg.startswith("point 10 kg on bar_a_left refused: not stable: spread ")
        assert msg.endswith("over 1 s within 2.5 s (limit 0.2 kg): stop the weight swinging, "
                            "make sure nothing touches it, and try again")
        draft = rig.cal.store.load_draft()
        assert draft is not None and all(p.kind == "tare" for p in draft.points)


def test_a_saturated_point_is_shown_and_the_commit_refused(rig: Rig) -> None:
    rig.cal.tare()
    rig.play(swing_csv({"bar_a_left": 10.0}, 0.0, 1.0, 3.0,
                       faults={"bar_a_left": "saturate"}))
    res = rig.cal.add_point("bar_a_left", 10.0)
    assert res["saturated"] is True
    rig.hang({"bar_a_left": 25.0})
    rig.cal.add_point("bar_a_left", 25.0)
    with pytest.raises(CalibrationRefused) as e:
        rig.cal.commit("Ana")
    assert str(e.value).startswith("commit refused: bar_a_left: the 10 kg point saturated the "
                                   "amplifier")
    assert "bar_a_right: 0 known weight(s) captured (none); at least 2 different weights " \
           "are needed besides the tare" in e.value.problems
    assert read_file(rig.state_dir / "calibration.json") is None, "nothing was committed"


def test_a_bar_point_is_shared_by_the_lever_rule(rig: Rig) -> None:
    rig.cal.tare()
    rig.hang({"bar_b_left": 15.0, "bar_b_right": 5.0})
    res = rig.cal.add_bar_point("b", 20.0, position=0.25)
    got = {p["mount"]: (p["known_kg"], p["kind"]) for p in res["points"]}
    assert got == {"bar_b_left": (15.0, "bar"), "bar_b_right": (5.0, "bar")}
    assert res["warnings"] == []


def test_installer_steps_are_refused_during_a_session_and_while_busy(rig: Rig) -> None:
    rig.core.start_session(40.0, 70.0, "s1")
    with pytest.raises(CalibrationRefused, match="tare refused: a session is active; stop it "
                                                 "first"):
        rig.cal.tare()
    rig.core.stop_session()
    t = threading.Thread(target=rig.cal.tare)
    t.start()
    time.sleep(0.2)
    with pytest.raises(CalibrationBusy, match="busy: a tare is running"):
        rig.cal.add_point("bar_a_left", 10.0)
    t.join()
    assert rig.cal.store.load_draft() is not None


def test_retare_cannot_move_the_reference_zero(rig: Rig) -> None:
    install_true_calibration(rig)
    ref = [rig.sim.true_offset[i] for i in range(4)]
    rig.hang({"bar_a_left": 8.0}, settle=True)
    with pytest.raises(CalibrationRefused) as e:
        rig.cal.retare()
    assert str(e.value).startswith("re-tare refused: bar_a_left reads +8.0")
    assert "kg from its calibrated zero (limit 5 kg)" in str(e.value)

    rig.hang({"bar_a_left": 3.0}, settle=True)  # a forgotten 3 kg: within the re-tare limit
    res = rig.cal.retare()
    assert res["moved_kg"]["bar_a_left"] == pytest.approx(3.0, abs=0.05)
    cal = rig.cal.store.load()
    assert cal.current is not None and cal.version == 1
    assert [cal.current.mounts[m].offset for m in NAMES] == ref, "reference zero unchanged"
    est = rig.core.controller.estimator
    assert est.reference_offsets == ref
    time.sleep(0.1)
    assert est.mount_kg[0] == pytest.approx(0.0, abs=0.1)  # the working zero hides it ...
    assert est.safety_kg[0] == pytest.approx(3.0, abs=0.1)  # ... the safety rules do not

    # capacity 100 kg, overload at 80 kg: 81 kg hanging reads 78 kg from the working zero
    rig.core.start_session(40.0, 70.0, "retare")
    rig.hang({"bar_a_left": 81.0}, swing_kg=0.0)
    deadline = time.monotonic() + 3
    while rig.core.controller.state is not State.OVERLOAD and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rig.core.controller.state is State.OVERLOAD
    assert est.mount_kg[0] < 80.0 <= est.safety_kg[0]
    rig.core.stop_session()
    # the next re-tare (or a restart) still measures from the same reference
    rig.hang({"bar_a_left": 1.0}, settle=True)
    rig.cal.retare()
    assert [rig.cal.store.load().current.mounts[m].offset  # type: ignore[union-attr]
            for m in NAMES] == ref


def test_retare_needs_a_committed_calibration(rig: Rig) -> None:
    with pytest.raises(CalibrationRefused, match="re-tare refused: no calibration committed "
                                                 "on this rig yet"):
        rig.cal.retare()


def hanging_therapist_csv(weight_kg: float, sway_kg: float = 0.1) -> str:
    """Grabs the bars, lifts the feet over 1 s, then hangs with a small sway."""
    shares = (0.27, 0.23, 0.26, 0.24)
    lines = ["t_s," + ",".join(NAMES), "0," + ",".join(["0"] * 4)]
    for k in range(1, 60):
        t = 0.5 + k * 0.25
        lift = min(1.0, k * 0.25)
        s = sway_kg * (1 if k % 2 else -1) if lift >= 1.0 else 0.0
        lines.append(f"{t:.2f}," + ",".join(f"{weight_kg * lift * f + s / 4:.4f}"
                                             for f in shares))
    return "\n".join(lines) + "\n"


def test_weigh_in_returns_the_hanging_weight(rig: Rig) -> None:
    install_true_calibration(rig)
    rig.play(hanging_therapist_csv(68.4))
    res = rig.cal.weigh_in()
    assert res["weight_kg"] == pytest.approx(68.4, abs=0.3)
    assert 0 < res["spread_kg"] < 0.5


def test_weigh_in_refuses_a_swinging_therapist(rig: Rig) -> None:
    install_true_calibration(rig)
    rig.play(swing_csv({m: 17.0 for m in NAMES}, 0.35, 2.0, 15.0))
    t0 = time.monotonic()
    with pytest.raises(CalibrationRefused) as e:
        rig.cal.weigh_in()
    assert time.monotonic() - t0 < 11, "refused within the 10 s the rule allows"
    msg = str(e.value)
    assert msg.startswith("weigh-in refused: not stable: spread ")
    assert msg.endswith(" kg - hang still with feet off the table")
    spread = float(msg.split("spread ")[1].split(" kg")[0])
    assert spread > 1.0


def test_weigh_in_refuses_feet_on_the_table_and_a_faulted_mount(tmp_path: Path) -> None:
    with running_rig(make_config(calibration={"weigh_in_timeout_s": 3.0}), tmp_path) as rig:
        install_true_calibration(rig)
        rig.hang({m: 5.0 for m in NAMES}, swing_kg=0.0)
        with pytest.raises(CalibrationRefused, match=r"weigh-in refused: bar load 20\.\d kg is "
                                                     r"below 30 kg - hang fully from the bars "
                                                     "with feet off the table"):
            rig.cal.weigh_in()
        rig.play(swing_csv({m: 17.0 for m in NAMES}, 0.0, 1.0, 5.0,
                           faults={"bar_a_right": "disconnect"}))
        with pytest.raises(CalibrationRefused, match=r"weigh-in refused: sensor fault on "
                                                     r"bar_a_right \(stale\)"):
            rig.cal.weigh_in()


def test_a_calibration_survives_a_core_restart(tmp_path: Path) -> None:
    cfg = make_config()
    with running_rig(cfg, tmp_path) as rig:
        install_true_calibration(rig)
        rig.cal.tare()  # a new calibration in progress, too
    with running_rig(cfg, tmp_path) as rig:
        assert rig.cal.applied.version == 1 and rig.cal.applied.source == "state"
        assert rig.core.controller.estimator.offsets == list(rig.sim.true_offset)
        assert rig.cal.store.load_draft() is not None
        rig.hang({"bar_a_left": 12.0})
        v = rig.cal.verify(12.0, "bar_a_left")
        assert abs(v["mounts"]["bar_a_left"]["error_kg"]) < 0.05
    assert CalibrationStore(tmp_path).load().version == 1


def test_a_session_started_during_a_retare_keeps_the_calibration_it_started_with(
        rig: Rig) -> None:
    """Calibration never changes under a client, even when the session began mid-capture."""
    install_true_calibration(rig)
    rig.hang({"bar_a_left": 2.0}, settle=True)  # within the re-tare limit: would be taken
    est = rig.core.controller.estimator
    offsets = list(est.offsets)
    stored = rig.cal.store.load()
    started: list[bool] = []

    def progress(_f: float, _msg: str) -> None:
        if not started:  # the clinic starts a session while the installer's re-tare runs
            started.append(True)
            rig.core.start_session(40.0, 70.0, "s1")

    try:
        with pytest.raises(CalibrationRefused, match="re-tare refused: a session is active"):
            rig.cal.retare(progress)
        assert started and rig.core.controller.session is not None
        assert est.offsets == offsets
        assert rig.cal.store.load() == stored
    finally:
        rig.core.stop_session()
