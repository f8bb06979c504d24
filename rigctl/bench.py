"""``rigctl bench``: loop timing, warning latency and replay speed on the sim rig.

Figures, not pass/fail tests: the goals are printed beside them so a reader
sees at a glance what was met on this machine.
"""

from __future__ import annotations

import io
import math
import random
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rigctl.backends.scenario import builtin_scenario
from rigctl.backends.sim import SimRig
from rigctl.config import Config
from rigctl.core.runtime import Core
from rigctl.core.warning import State
from rigctl.outputs.factory import build_outputs
from rigctl.outputs.gpio import mock_pin_factory
from rigctl.replay import replay

GOALS = {
    "compute_p99_us": ("<", 100),
    "period_error_p99_us": ("<", 200),
    "period_error_max_us": ("<", 2000),
    "overruns": ("<=", 0),
    "cpu_pct": ("<", 15),
    "step_130_to_red_max_ms": ("<=", 40),
    "step_105_to_red_max_ms": ("<=", 100),
    "sample_130_to_red_max_ms": ("<=", 10),
    "sample_105_to_red_max_ms": ("<=", 10),
    "replay_speed_x": (">=", 500),
}


@dataclass
class _Watch:
    """Loop-thread observer: when the over condition was met and when red came on."""

    newest_ns: int = 0
    crossing_ns: int = 0
    met_ns: int = 0
    red_ns: int = 0
    prev_above: int | None = None
    prev_state: State = State.IDLE


def _make_core(cfg: Config) -> tuple[Core, SimRig]:
    sim = SimRig(cfg, start_ns=time.monotonic_ns())
    core = Core(cfg, sim, build_outputs(cfg, mock_pin_factory()))
    return core, sim


def _loads_for_foot(cfg: Config, therapist_kg: float, foot_kg: float) -> list[float]:
    n = len(cfg.mounts)
    return [(therapist_kg - foot_kg) / n] * n


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return math.nan
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def measure_loop(cfg: Config, seconds: float, progress: Callable[[str], None]) -> dict[str, Any]:
    """The live loop with an active session playing the demo scenario."""
    core, sim = _make_core(cfg)
    sim.play(builtin_scenario("demo", cfg.mount_names), time.monotonic_ns(), loop=True)
    core.start()
    try:
        core.loop.first_tick.wait(5)
        core.start_session(cfg.demo.limit_kg, cfg.demo.therapist_kg, "bench")
        time.sleep(0.5)  # start-up done; measure steady state only
        core.loop.period_error.reset()
        core.loop.compute.reset()
        overruns0 = core.loop.overruns
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        w0 = time.monotonic()
        end = w0 + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 5.0))
            progress(f"loop: {seconds - max(left - 5, 0):.0f}/{seconds:.0f} s")
        wall = time.monotonic() - w0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        lp = core.loop
        return {
            "seconds": round(wall, 1),
            "ticks": lp.compute.count,
            "period_error_p50_us": lp.period_error.percentile(50),
            "period_error_p99_us": lp.period_error.percentile(99),
            "period_error_max_us": lp.period_error.max,
            "overruns": lp.overruns - overruns0,
            "compute_p50_us": lp.compute.percentile(50),
            "compute_p99_us": lp.compute.percentile(99),
            "cpu_pct": round(100 * ((ru1.ru_utime + ru1.ru_stime)
                                    - (ru0.ru_utime + ru0.ru_stime)) / wall, 1),
            "peak_rss_mb": round(ru1.ru_maxrss / 1024, 1),
            "sched_fifo": lp.fifo_active,
        }
    finally:
        core.stop()


def measure_latency(cfg: Config, steps: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """Steps from 50 % of the limit to 130 % and to 105 %, on the live loop with the sim."""
    core, sim = _make_core(cfg)
    limit, weight = cfg.demo.limit_kg, cfg.demo.therapist_kg
    dwell_ns = int(cfg.warning.over_dwell_ms * 1e6)
    immediate = cfg.warning.over_immediate_fraction * limit
    w = _Watch()
    ctl = core.controller
    slots = sim.slots

    def observe(now_ns: int) -> None:  # loop thread, after each tick: O(1)
        newest = w.newest_ns
        for slot in slots:
            s = slot.sample
            if s is not None and s.t_ns > newest:
                newest = s.t_ns
        w.newest_ns = newest
        above = ctl.machine.above_since_ns
        if above is not None and w.prev_above is None:
            w.crossing_ns = newest
        w.prev_above = above
        state = ctl.state
        if state is State.OVER and w.prev_state is not State.OVER:
            w.met_ns = newest if ctl.foot_kg >= immediate else w.crossing_ns + dwell_ns
            w.red_ns = core.red_on_ns
        w.prev_state = state

    core.on_tick(observe)
    sim.hold(_loads_for_foot(cfg, weight, 0.5 * limit))
    rng = random.Random(7)
    out: dict[str, Any] = {}
    core.start()
    try:
        core.loop.first_tick.wait(5)
        core.start_session(limit, weight, "bench-latency")
        for frac, key in ((1.30, "130"), (1.05, "105")):
            step_ms: list[float] = []
            sample_ms: list[float] = []
            for k in range(steps):
                sim.hold(_loads_for_foot(cfg, weight, 0.5 * limit), time.monotonic_ns())
                deadline = time.monotonic() + 3
                while ctl.state is not State.OK and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(0.2 + rng.random() * 0.0125)  # random phase vs. conversions
                w.red_ns = 0
                t_step = time.monotonic_ns()
                sim.hold(_loads_for_foot(cfg, weight, frac * limit), t_step)
                deadline = time.monotonic() + 2
                while w.red_ns == 0 and time.monotonic() < deadline:
                    time.sleep(0.002)
                if w.red_ns:
                    step_ms.append((w.red_ns - t_step) / 1e6)
                    sample_ms.append((w.red_ns - w.met_ns) / 1e6)
                progress(f"latency {key} %: step {k + 1}/{steps}")
            out[f"step_{key}_to_red_p50_ms"] = round(statistics.median(step_ms), 2)
            out[f"step_{key}_to_red_max_ms"] = round(max(step_ms), 2)
            out[f"sample_{key}_to_red_p50_ms"] = round(statistics.median(sample_ms), 2)
            out[f"sample_{key}_to_red_max_ms"] = round(max(sample_ms), 2)
            out[f"steps_{key}"] = len(step_ms)
            out[f"missed_{key}"] = steps - len(step_ms)
    finally:
        core.stop()
    return out


def hour_trace(cfg: Config, seconds: float = 3600.0, sps: float = 80.0) -> str:
    """A synthetic trace: strokes around the caution line, noise, four mounts."""
    rng = random.Random(3)
    names = cfg.mount_names
    n = len(names)
    gauss = rng.gauss
    lines = ["t_s," + ",".join(names)]
    for k in range(int(seconds * sps)):
        t = k / sps
        bar = 70.0 - (30.0 + 12.0 * math.sin(t * 0.9))
        lines.append(f"{t:.4f}," + ",".join(f"{bar / n + gauss(0, 0.02):.3f}" for _ in names))
    return "\n".join(lines) + "\n"


def measure_replay(cfg: Config) -> dict[str, Any]:
    text = hour_trace(cfg)
    res = replay(io.StringIO(text), cfg, 40.0, 70.0)
    return {
        "replay_trace_s": res.summary["duration_s"],
        "replay_rows": res.summary["rows"],
        "replay_wall_s": res.summary["replay_wall_s"],
        "replay_speed_x": res.summary["speed_x"],
    }


def check_goals(fig: dict[str, Any]) -> dict[str, bool]:
    ops = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}
    return {k: bool(ops[op](fig[k], v)) for k, (op, v) in GOALS.items() if k in fig}
