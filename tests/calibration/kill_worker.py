"""Child process for the kill -9 test: commits calibrations back to back until killed.

``store`` mode drives every write path of the calibration file directly
(commit, re-tare, verification, draft); ``core`` mode runs a real core on the
sim rig and commits through ``Calibrator.commit`` (fit, check, persist, apply),
as ``rigctl core`` does for the API. After each acknowledged write it prints
the calibration version, so the parent knows what must survive the kill.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rigctl.calibration.fit import Point
from rigctl.calibration.store import CalibrationStore, Draft, MountCalibration

NAMES = ("bar_a_left", "bar_a_right", "bar_b_left", "bar_b_right")


def draft(k: int) -> Draft:
    pts: list[Point] = []
    for i, m in enumerate(NAMES):
        off, scale = 1000.0 * i + k, 22000.0 + i
        pts.append(Point(m, 0.0, off, 12.0, 80, kind="tare"))
        pts += [Point(m, kg, off + scale * kg, 15.0, 80) for kg in (10.0, 25.0)]
    return Draft("2026-01-01T00:00:00+00:00", tuple(pts))


def store_mode(state: Path) -> None:
    store = CalibrationStore(state)
    print("go", flush=True)
    k = 0
    while True:
        k += 1
        d = draft(k)
        store.save_draft(d)
        mounts = {m: MountCalibration(1000.0 * i + k, 22000.0 + i,
                                      tuple(p for p in d.points if p.mount == m), (0.0,) * 3)
                  for i, m in enumerate(NAMES)}
        rec = store.commit(f"installer {k}", "sim-rig", mounts)
        print(rec.version, flush=True)
        store.set_tare({m: 1000.0 * i + k + 5 for i, m in enumerate(NAMES)})
        store.add_verification({"known_kg": 15.0, "k": k})
        print(rec.version, flush=True)


def core_mode(state: Path) -> None:
    from tests.calibration.conftest import make_config, running_rig

    with running_rig(make_config(), state) as rig:
        print("go", flush=True)
        k = 0
        while True:
            k += 1
            rig.cal.store.save_draft(draft(k))
            res = rig.cal.commit(f"installer {k}")
            print(res["version"], flush=True)


if __name__ == "__main__":
    mode, state_dir = sys.argv[1], Path(sys.argv[2])
    (core_mode if mode == "core" else store_mode)(state_dir)
