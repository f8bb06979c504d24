"""The sim rig and scenario CSV: timing, noise, faults, clear errors."""

from __future__ import annotations

import statistics

import pytest

from rigctl.backends.scenario import ScenarioError, builtin_scenario, parse_scenario
from rigctl.backends.sim import SimRig
from rigctl.config import load_config
from rigctl.sampling.slots import SAT_HIGH, SampleStatus

CFG = load_config(None)
NAMES = CFG.mount_names
HDR = "t_s," + ",".join(NAMES)


def collect(sim: SimRig, seconds: float, mount: int = 0) -> list:  # type: ignore[type-arg]
    out = []
    last = None
    for k in range(int(seconds * 1000)):
        s = sim.poll(k * 1_000_000)[mount]
        if s is not None and s is not last:
            out.append(s)
            last = s
    return out


def test_80_sps_with_noise_around_the_true_load() -> None:
    sim = SimRig(CFG)
    sim.hold([10.0, 20.0, 0.0, 5.0])
    samples = collect(sim, 2.0, mount=1)
    assert 155 <= len(samples) <= 162
    kg = [(s.raw - sim.true_offset[1]) / sim.true_scale[1] for s in samples]
    assert statistics.mean(kg) == pytest.approx(20.0, abs=0.01)
    assert 0.01 < statistics.pstdev(kg) < 0.03  # ~20 g rms


def test_scenario_interpolates_and_injects_faults() -> None:
    text = "\n".join([
        HDR + ",fault:bar_a_left",
        "0,0,0,0,0,ok",
        "1,10,10,10,10,saturate",
        "2,10,10,10,10,disconnect",
        "3,10,10,10,10,ok",
    ])
    sc = parse_scenario(text, NAMES)
    assert sc.load(0, 0.5) == pytest.approx(5.0)
    sim = SimRig(CFG)
    sim.play(sc, 0)
    s = collect(sim, 1.5)
    assert s[-1].raw == SAT_HIGH and s[-1].status is SampleStatus.SATURATED
    at_2s = sim.poll(2_050_000_000)[0]
    assert sim.poll(2_950_000_000)[0] is at_2s  # disconnected: no new conversion
    assert sim.poll(3_050_000_000)[0] is not at_2s  # reconnected
    assert sim.poll(3_050_000_000)[1] is not None


@pytest.mark.parametrize("body,msg", [
    ("", "empty file"),
    ("time,a\n", "the first column must be 't_s'"),
    (HDR + ",bar_c\n", "column 'bar_c': unknown mount"),
    ("t_s,bar_a_left\n0,1\n", "missing load column(s) bar_a_right"),
    (HDR + "\n0,1,2,3\n", "row 2: 4 cells, the header has 5"),
    (HDR + "\n0,1,2,3,x\n", "row 2, column 'bar_b_right': 'x' is not a number"),
    (HDR + "\n1,1,2,3,4\n0.5,1,2,3,4\n", "row 3, column 't_s': times must increase"),
    (HDR + ",fault:bar_a_left\n0,1,2,3,4,melted\n", "'melted' is not one of ok|disconnect"),
])
def test_bad_scenarios_name_row_and_column(body: str, msg: str) -> None:
    with pytest.raises(ScenarioError) as e:
        parse_scenario(body, NAMES, source="s.csv")
    assert msg in str(e.value)


def test_demo_scenario_has_a_whole_session() -> None:
    sc = builtin_scenario("demo", NAMES)
    assert sc.duration_s > 20
    assert "disconnect" in {f for per in sc.faults for f in per}
    bar = [sum(sc.load(i, t / 4) for i in range(4)) for t in range(int(sc.duration_s * 4))]
    assert min(bar) < 70 - 40 < max(bar)  # leans past a 40 kg limit with a 70 kg therapist
