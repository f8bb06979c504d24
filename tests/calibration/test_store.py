"""The calibration file: versions, history, checksum, re-tare vs reference zero, start-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rigctl.calibration.fit import Point
from rigctl.calibration.startup import build_controller, factory_path, load_startup
from rigctl.calibration.store import (
    CalibrationFile,
    CalibrationFileError,
    CalibrationStore,
    MountCalibration,
    encode,
    read_file,
)
from rigctl.config import load_config

from .conftest import make_config, write_config

NAMES = ("bar_a_left", "bar_a_right", "bar_b_left", "bar_b_right")


def mounts(offset: float = 1000.0, scale: float = 21000.0) -> dict[str, MountCalibration]:
    return {n: MountCalibration(offset + i, scale + i,
                                (Point(n, 0.0, offset + i, 5.0, 80, kind="tare"),), (0.0,))
            for i, n in enumerate(NAMES)}


def test_commits_are_versioned_and_kept_in_history(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    assert store.load().version == 0
    r1 = store.commit("Ana", "rig-1", mounts(1000))
    r2 = store.commit("Ben", "rig-1", mounts(2000))
    cal = store.load()
    assert (r1.version, r2.version, cal.version) == (1, 2, 2)
    assert [(r.version, r.installer) for r in cal.history] == [(1, "Ana"), (2, "Ben")]
    assert cal.current is not None
    assert cal.current.mounts["bar_a_right"].offset == 2001
    assert cal.current.mounts["bar_a_right"].points[0].kind == "tare"
    assert cal.current.committed_at.endswith("+00:00")
    assert not list(tmp_path.glob(".*.tmp")), "no temp file is left behind"


def test_a_damaged_or_hand_edited_file_is_refused_with_the_file_named(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    store.commit("Ana", "rig-1", mounts())
    doc = json.loads(store.path.read_text())
    doc["history"][0]["mounts"]["bar_a_left"]["scale"] = 30000.0
    store.path.write_text(json.dumps(doc))
    with pytest.raises(CalibrationFileError, match=r"calibration.json: checksum mismatch"):
        store.load()
    store.path.write_bytes(encode(CalibrationFile())[:40])  # a torn write
    with pytest.raises(CalibrationFileError, match="not valid JSON"):
        store.load()


def test_retare_moves_the_working_zero_never_the_reference(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    store.commit("Ana", "rig-1", mounts(1000))
    store.set_tare({n: 1500.0 for n in NAMES})
    cal = store.load()
    assert cal.current is not None
    assert cal.current.mounts["bar_a_left"].offset == 1000, "reference zero unchanged"
    assert cal.active_tare() is not None
    cfg = make_config()
    applied = load_startup(cfg, tmp_path)
    assert applied.offsets == (1500.0,) * 4
    assert applied.reference == (1000.0, 1001.0, 1002.0, 1003.0)
    assert "re-tared" in applied.describe()
    # a new calibration replaces the re-tare: it is taken relative to an old reference
    store.commit("Ben", "rig-1", mounts(3000))
    applied = load_startup(cfg, tmp_path)
    assert applied.offsets == applied.reference == (3000.0, 3001.0, 3002.0, 3003.0)


def test_startup_prefers_committed_then_factory_then_config(tmp_path: Path) -> None:
    factory_dir = tmp_path / "factory"
    CalibrationStore(factory_dir).commit("factory", "sim", mounts(777))
    cfg = make_config(calibration={"factory_file": str(factory_dir / "calibration.json")})
    state = tmp_path / "state"
    a = load_startup(cfg, state)
    assert (a.source, a.version, a.offsets[0]) == ("factory", 1, 777.0)
    CalibrationStore(state).commit("Ana", "sim", mounts(555))
    a = load_startup(cfg, state)
    assert (a.source, a.offsets[0]) == ("state", 555.0)
    plain = make_config()
    a = load_startup(plain, tmp_path / "empty")
    assert (a.source, a.version) == ("config", 0)
    assert a.offsets == tuple(m.offset for m in plain.mounts.values())
    ctl, _ = build_controller(cfg, state)
    assert ctl.estimator.offsets[0] == 555.0 and ctl.estimator.reference_offsets[0] == 555.0


def test_a_missing_factory_file_or_a_damaged_state_file_stops_startup(tmp_path: Path) -> None:
    cfg = make_config(calibration={"factory_file": str(tmp_path / "missing.json")})
    with pytest.raises(CalibrationFileError, match=r"calibration\.factory_file: .*no such file"):
        load_startup(cfg, tmp_path)
    (tmp_path / "calibration.json").write_text("{}")
    with pytest.raises(CalibrationFileError, match="not a rigctl calibration file"):
        load_startup(make_config(), tmp_path)


def test_a_mount_missing_from_the_calibration_keeps_config_values_and_is_named(
        tmp_path: Path) -> None:
    m = mounts()
    del m["bar_b_right"]
    CalibrationStore(tmp_path).commit("Ana", "rig", m)
    a = load_startup(make_config(), tmp_path)
    assert a.uncalibrated == ("bar_b_right",)
    assert "NOT calibrated: bar_b_right" in a.describe()


def test_factory_file_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path / "rig.toml", calibration={"factory_file": "fac/cal.json"})
    assert load_config(cfg_path).calibration.factory_file == str(tmp_path / "fac" / "cal.json")


def test_the_shipped_sim_rig_has_a_factory_calibration_made_for_its_hidden_truth() -> None:
    from rigctl.backends.sim import SimRig
    from rigctl.core.runtime import Core
    from rigctl.outputs.factory import build_outputs
    from rigctl.outputs.gpio import mock_pin_factory

    cfg = load_config(None)  # config/sim.toml, as `rigctl run` uses it
    sim = SimRig(cfg)
    shipped = [(m.offset, m.scale) for m in cfg.mounts.values()]
    # the config's own values are visibly off the truth: calibrating matters on the sim
    off_kg = [abs(t - o) / s for (o, s), t in zip(shipped, sim.true_offset, strict=True)]
    assert max(off_kg) > 0.5
    applied = load_startup(cfg, None)
    assert (applied.source, applied.version) == ("factory", 1)
    for i in range(4):
        zero_err_kg = (applied.offsets[i] - sim.true_offset[i]) / sim.true_scale[i]
        assert abs(zero_err_kg) < 0.03
        assert applied.scales[i] == pytest.approx(sim.true_scale[i], rel=2e-3)
    # it was made by the procedure, with its points and verifications on record
    fac = read_file(Path(str(factory_path("sim"))))
    assert fac is not None and fac.current is not None
    assert all(len(m.points) == 3 for m in fac.current.mounts.values())
    assert len(fac.current.verifications) == 4
    assert all(v["pass"] for v in fac.current.verifications)
    # and a core built the plain way starts with it
    core = Core(cfg, sim, build_outputs(cfg, mock_pin_factory()))
    assert core.controller.estimator.offsets == list(applied.offsets)
