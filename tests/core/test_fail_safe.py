"""Fail-safe paths between a load cell and the therapist's warning (safety review)."""

from __future__ import annotations

import math

import pytest

from rigctl.config import load_config
from rigctl.core.controller import Controller
from rigctl.core.warning import State
from rigctl.sampling.slots import Sample

CFG = load_config(None)
TICK_NS = CFG.tick_ns
SAMPLE_NS = 12_500_000
LIMIT = 40.0
WEIGHT = 70.0


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_reading_faults_instead_of_hiding_the_load(bad: float) -> None:
    """A driver that hands over NaN/inf must not read as 'no foot load' (green, armed)."""
    ctl = Controller(CFG, offsets=[0.0] * 4, scales=[1.0] * 4)
    t = 0
    seq = 0

    def run(seconds: float, per_mount: list[float]) -> None:
        nonlocal t, seq
        end = t + int(seconds * 1e9)
        next_sample = t
        while t < end:
            if next_sample <= t:
                seq += 1
                ctl.tick(t, [Sample(seq, t, kg) for kg in per_mount])  # type: ignore[arg-type]
                next_sample += SAMPLE_NS
            else:
                ctl.tick(t)
            t += TICK_NS

    run(0.5, [WEIGHT / 4] * 4)
    ctl.start_session(LIMIT, WEIGHT, t)
    run(0.5, [(WEIGHT - 50.0) / 4] * 4)  # 50 kg on the feet: over the 40 kg limit
    assert ctl.state is State.OVER
    # one mount's driver now reports a non-finite value for every conversion
    run(0.5, [bad, *[(WEIGHT - 50.0) / 4] * 3])
    assert ctl.state is State.FAULT
    assert ctl.estimator.mount_fault[0] is not None
    assert math.isfinite(ctl.estimator.bar_kg)
