"""The loop runner: ticks at its rate, counts overruns, raises a fault on a streak."""

from __future__ import annotations

import itertools
import time

from rigctl.core.loop import LoopRunner


def run_for(runner: LoopRunner, seconds: float) -> None:
    runner.start()
    time.sleep(seconds)
    runner.stop()


def test_ticks_on_absolute_deadlines() -> None:
    seen: list[int] = []
    r = LoopRunner(seen.append, rate_hz=200, sched_fifo=False)
    run_for(r, 0.5)
    assert 80 <= len(seen) <= 101
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    # absolute deadlines: the mean period is exact even if single gaps vary
    assert abs(sum(gaps) / len(gaps) - 5_000_000) < 250_000
    assert r.period_error.count == len(seen) and r.compute.count == len(seen)


def test_overrun_streak_raises_loop_fault_and_recovers() -> None:
    slow = {"on": True}

    def tick(_now: int) -> None:
        if slow["on"]:
            time.sleep(0.012)

    r = LoopRunner(tick, rate_hz=200, sched_fifo=False, overrun_fault_streak=5)
    r.start()
    time.sleep(0.3)
    assert r.loop_fault and r.overruns >= 5
    slow["on"] = False
    time.sleep(0.1)
    r.stop()
    assert not r.loop_fault


def test_a_raising_tick_is_counted_and_latches_fault() -> None:
    def tick(_now: int) -> None:
        raise ValueError("bug")

    r = LoopRunner(tick, rate_hz=200, sched_fifo=False)
    run_for(r, 0.1)
    assert r.tick_errors > 0 and r.loop_fault


def stall_once(stall_s: float, run_s: float) -> tuple[LoopRunner, list[bool]]:
    """Run a loop whose 20th tick stalls once; return it and loop_fault as each tick saw it."""
    seen: list[bool] = []

    def tick(_now: int) -> None:
        seen.append(r.loop_fault)
        if len(seen) == 20:
            time.sleep(stall_s)

    r = LoopRunner(tick, rate_hz=200, sched_fifo=False, overrun_fault_streak=5,
                   stall_fault_ms=60)
    run_for(r, run_s)
    return r, seen


def test_one_stall_longer_than_stale_after_is_a_fault_on_its_own() -> None:
    r, seen = stall_once(0.08, 0.4)  # blind for 80 ms: longer than a stale sensor (60 ms)
    assert r.overruns >= 1
    assert seen[20] is True  # the tick after the stall sees the fault
    assert not r.loop_fault  # and on-time ticks clear it again


def test_a_short_overrun_alone_is_not_a_fault() -> None:
    r, seen = stall_once(0.012, 0.3)  # two periods late, once
    assert r.overruns >= 1 and not any(seen)
