"""Fail-safe paths between a load cell and the therapist's warning (safety review)."""

from __future__ import annotations

import math
import time

import pytest

from rigctl.backends.sim import SimRig
from rigctl.config import load_config
from rigctl.core.controller import Controller
from rigctl.core.patterns import Commands
from rigctl.core.runtime import Core, CoreTimeout
from rigctl.core.warning import State
from rigctl.outputs.base import OutputSink
from rigctl.sampling.slots import Sample

CFG = load_config(None)
TICK_NS = CFG.tick_ns
SAMPLE_NS = 12_500_000
LIMIT = 40.0
WEIGHT = 70.0


class RecordingSink(OutputSink):
    """Remembers every command the loop applied."""

    def __init__(self) -> None:
        self.applied: list[Commands] = []
        self.closed = False

    def apply(self, cmd: Commands) -> None:
        self.applied.append(cmd)

    def close(self) -> None:
        self.closed = True


def wait_for(cond, timeout: float = 2.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


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


class FailingSource(SimRig):
    """A backend whose poll starts raising (a driver bug) once ``broken`` is set."""

    broken = False

    def poll(self, now_ns: int) -> list[Sample | None]:
        if self.broken:
            raise RuntimeError("driver bug")
        return super().poll(now_ns)


def test_a_tick_that_keeps_raising_never_leaves_green_on() -> None:
    """DESIGN 6: green means armed; a loop that cannot compute must show fault, not ok."""
    src = FailingSource(CFG, start_ns=time.monotonic_ns())
    src.hold([(WEIGHT - 20.0) / 4] * 4)
    sink = RecordingSink()
    core = Core(CFG, src, sink)
    core.start()
    try:
        assert core.loop.first_tick.wait(2)
        core.start_session(LIMIT, WEIGHT)
        assert wait_for(lambda: core.last_commands.green)
        src.broken = True
        errors = core.loop.tick_errors
        assert wait_for(lambda: core.loop.tick_errors >= errors + 5)
        last = sink.applied[-1]
        assert not last.green
        assert last.haptic_pattern == "fault"
        assert not core.last_commands.green
    finally:
        core.stop()
    assert sink.closed


def test_a_command_that_timed_out_never_runs_later() -> None:
    """A caller told 'busy' must be able to trust that nothing happened (e.g. a stop)."""
    src = SimRig(CFG, start_ns=time.monotonic_ns())
    core = Core(CFG, src, RecordingSink())
    ran: list[int] = []
    with pytest.raises(CoreTimeout):  # the loop is not running yet: nobody takes it
        core.call(ran.append, timeout=0.05)
    core.start()
    try:
        assert core.loop.first_tick.wait(2)
        assert core.call(lambda now: now) > 0  # the loop serves commands now
        assert wait_for(lambda: core.loop.ticks >= 5)
        assert ran == []
    finally:
        core.stop()
