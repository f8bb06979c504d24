"""A sim rig whose hidden true calibration is off, and a running core to calibrate it on."""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rigctl.backends.scenario import parse_scenario
from rigctl.backends.sim import SimRig
from rigctl.calibration.procedures import Calibrator
from rigctl.calibration.simhang import hang_csv
from rigctl.calibration.startup import build_controller
from rigctl.config import Config, parse_config
from rigctl.core.runtime import Core
from rigctl.outputs.factory import build_outputs
from rigctl.outputs.gpio import mock_pin_factory
from tests.support.rig import Rig as ApiRig

SIM_TOML = Path(__file__).resolve().parents[2] / "config" / "sim.toml"
NAMES = ("bar_a_left", "bar_a_right", "bar_b_left", "bar_b_right")

#: what every calibration test runs with: the sim's truth 3 % / 3 kg away from the
#: config, no factory calibration (so calibrating has real work to do), no demo
TEST_DEFAULTS: dict[str, Any] = {
    "loop": {"sched_fifo": False},
    "sim": {"scale_error": 0.03, "offset_error_kg": 3.0, "scenario": "demo"},
    "demo": {"start_session": False},
}


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out.get(k, {}), v) if isinstance(v, Mapping) else v
    return out


def config_data(**sections: Any) -> dict[str, Any]:
    data = tomllib.loads(SIM_TOML.read_text())
    data.get("calibration", {}).pop("factory_file", None)
    return _merge(_merge(data, TEST_DEFAULTS), sections)


def make_config(**sections: Any) -> Config:
    return parse_config(config_data(**sections), "test config")


def _toml(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for k, v in data.items():
        if isinstance(v, Mapping):
            tables.append((f"{prefix}{k}", v))
        else:
            lines.append(f"{k} = {json.dumps(v)}")  # JSON scalars are valid TOML here
    for name, table in tables:
        lines += ["", f"[{name}]", *_toml(table, name + ".")]
    return lines


def write_config(path: Path, **sections: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(_toml(config_data(**sections))) + "\n")
    return path


@dataclass
class Rig:
    core: Core
    sim: SimRig
    cal: Calibrator
    state_dir: Path

    def hang(self, loads: Mapping[str, float], swing_kg: float = 0.4,
             settle: bool = False) -> None:
        """Hang known loads (kg per mount; others 0) by playing a scenario, as the CLI does.

        ``settle`` waits until the swing has died out (a tare does not wait by itself).
        """
        now = time.monotonic_ns()
        start = {n: self.sim.true_load(i, now)[0] for i, n in enumerate(self.sim.mount_names)}
        csv = hang_csv(self.sim.mount_names, loads, start, swing_kg=swing_kg)
        self.sim.play(parse_scenario(csv, self.sim.mount_names, "hang"), now)
        if settle:
            time.sleep(0.7)

    def play(self, csv: str) -> None:
        self.sim.play(parse_scenario(csv, self.sim.mount_names, "test"), time.monotonic_ns())

    def true_kg(self, mount: str, raw: float) -> float:
        i = self.sim.mount_names.index(mount)
        return (raw - self.sim.true_offset[i]) / self.sim.true_scale[i]


@contextmanager
def running_rig(cfg: Config, state_dir: Path) -> Iterator[Rig]:
    ctl, applied = build_controller(cfg, state_dir)
    sim = SimRig(cfg, start_ns=time.monotonic_ns())
    sim.hold([0.0] * len(cfg.mounts))
    core = Core(cfg, sim, build_outputs(cfg, mock_pin_factory()), controller=ctl)
    cal = Calibrator(core, state_dir, applied)
    core.start()
    try:
        assert core.loop.first_tick.wait(5)
        time.sleep(0.1)  # the median filters fill
        yield Rig(core, sim, cal, state_dir)
    finally:
        core.stop()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with running_rig(make_config(), tmp_path / "state") as r:
        yield r


class CalRig(ApiRig):
    """The integration tests' core + API, on a rig whose truth is off and that starts empty."""

    def __init__(self, tmp: Path, **sections: Any) -> None:
        super().__init__(tmp)
        empty = tmp / "empty.csv"
        empty.write_text("t_s," + ",".join(NAMES) + "\n0,0,0,0,0\n")
        write_config(self.config, **{"sim": {"scenario": str(empty), "loop_scenario": False},
                                     **sections})
        self._hung: dict[str, float] = {}

    def hang(self, admin: httpx.Client, loads: dict[str, float]) -> None:
        r = admin.post("/api/v1/sim/scenario", content=hang_csv(NAMES, loads, self._hung),
                       headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        self._hung = dict(loads)
