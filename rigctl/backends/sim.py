"""The simulated rig: true mount loads (kg) -> HX711-like raw counts at 80 SPS.

It has its own hidden "true" calibration (differing from the config's by
``sim.scale_error`` / ``sim.offset_error_kg``), Gaussian noise, per-conversion
timing jitter and the faults a scenario injects.

Like the hardware backends, a running sim (:meth:`SimRig.start`) has a
sampler thread that converts at each conversion instant and publishes into
the latest-sample slots; the loop's :meth:`poll` only reads them, so the cost
of simulating the physics is not charged to the 200 Hz tick. Not started (unit
tests, calibration fixtures), conversions are produced lazily in ``poll`` for
every instant that has passed, deterministically.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence

from rigctl.backends.scenario import Scenario
from rigctl.config import Config
from rigctl.sampling.slots import SAT_HIGH, LatestSlot, Sample, SampleSource, SampleStatus

SPIKE_KG = 60.0
SPIKE_EVERY = 10  # in "spike" mode every 10th conversion carries a spike


class SimRig(SampleSource):
    def __init__(self, cfg: Config, start_ns: int = 0) -> None:
        self.mount_names = cfg.mount_names
        n = len(self.mount_names)
        sim = cfg.sim
        cal_rng = random.Random(f"calibration:{sim.seed}")
        mounts = list(cfg.mounts.values())
        self.true_scale = [m.scale * (1.0 + cal_rng.uniform(-1, 1) * sim.scale_error)
                           for m in mounts]
        self.true_offset = [m.offset + cal_rng.uniform(-1, 1) * sim.offset_error_kg * m.scale
                            for m in mounts]
        self.noise_kg = sim.noise_kg
        self.period_ns = int(1e9 / cfg.sampling.sps)
        self.jitter_ns = sim.jitter_us * 1e3
        self._rng = random.Random(sim.seed)
        self.slots = [LatestSlot() for _ in range(n)]
        self._next_ns = [start_ns + (i * self.period_ns) // n for i in range(n)]
        self._due_ns = start_ns
        #: the list ``poll`` returns (updated in place: the loop only reads it)
        self._latest: list[Sample | None] = [None] * n
        self._count = [0] * n
        self._last_raw = [0] * n
        self._scenario: tuple[Scenario, int, bool] | None = None
        #: (loads before ``at_ns``, at_ns, loads from then on): one reference, swapped whole
        self._static: tuple[list[float], int, list[float]] = ([0.0] * n, -(2**62), [0.0] * n)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- what the rig is doing -------------------------------------------------
    def play(self, scenario: Scenario, start_ns: int, loop: bool = False) -> None:
        """Start a scenario at ``start_ns`` (one reference swap: safe from any thread)."""
        if scenario.mounts != self.mount_names:
            raise ValueError("scenario mounts do not match the rig")
        self._scenario = (scenario, start_ns, loop)

    def hold(self, loads_kg: Sequence[float], at_ns: int | None = None) -> None:
        """Stop any scenario and hold these true loads (from ``at_ns`` on, when given).

        Conversions before ``at_ns`` keep the previous loads, so a step has an
        exact time whenever the conversion is actually produced.
        """
        n = len(self.mount_names)
        prev = [self.true_load(i, at_ns or 0)[0] for i in range(n)]
        self._static = (prev, at_ns if at_ns is not None else -(2**62),
                        [float(x) for x in loads_kg])
        self._scenario = None

    def scenario_time_s(self, now_ns: int) -> float | None:
        sc = self._scenario
        if sc is None:
            return None
        scenario, t0, loop = sc
        t = (now_ns - t0) / 1e9
        if loop and scenario.duration_s > 0:
            t %= scenario.duration_s
        return t

    def true_load(self, mount: int, now_ns: int) -> tuple[float, str]:
        sc = self._scenario
        if sc is None:
            prev, at_ns, loads = self._static
            return (prev if now_ns < at_ns else loads)[mount], "ok"
        scenario, t0, loop = sc
        t = (now_ns - t0) / 1e9
        if loop and scenario.duration_s > 0:
            t %= scenario.duration_s
        return scenario.load(mount, t), scenario.fault(mount, t)

    # -- SampleSource ------------------------------------------------------------
    def poll(self, now_ns: int) -> list[Sample | None]:
        if self._thread is None and now_ns >= self._due_ns:
            self._produce(now_ns, publish_ns=None)
        return self._latest

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="rigctl-sim", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        t = self._thread
        if t is not None:
            self._stop.set()
            t.join(1.0)
            self._thread = None

    def _run(self) -> None:
        mono = time.monotonic_ns
        while not self._stop.is_set():
            wait = self._due_ns - mono()
            if wait > 0:
                time.sleep(wait / 1e9)
                continue
            now = mono()
            self._produce(now, publish_ns=now)

    def _produce(self, now_ns: int, publish_ns: int | None) -> None:
        """Every conversion due by ``now_ns``; stamped with ``publish_ns`` (read time)
        when given, else with the conversion instant (lazy mode)."""
        nxt = self._next_ns
        latest = self._latest
        for i in range(len(nxt)):
            if nxt[i] <= now_ns:
                while nxt[i] <= now_ns:
                    self._convert(i, nxt[i], publish_ns)
                    nxt[i] += self.period_ns + int(self._rng.gauss(0.0, self.jitter_ns))
                latest[i] = self.slots[i].sample
        self._due_ns = min(nxt)

    def _convert(self, i: int, t_conv: int, publish_ns: int | None) -> None:
        kg, mode = self.true_load(i, t_conv)
        t_ns = t_conv if publish_ns is None else publish_ns
        self._count[i] += 1
        slot = self.slots[i]
        if mode == "disconnect":
            return
        if mode == "saturate":
            slot.publish(t_ns, SAT_HIGH, SampleStatus.SATURATED)
            return
        if mode == "stuck":
            slot.publish(t_ns, self._last_raw[i])
            return
        if mode == "spike" and self._count[i] % SPIKE_EVERY == 0:
            kg += SPIKE_KG if (self._count[i] // SPIKE_EVERY) % 2 else -SPIKE_KG
        kg += self._rng.gauss(0.0, self.noise_kg)
        raw = round(self.true_offset[i] + kg * self.true_scale[i])
        if raw >= SAT_HIGH or raw <= -SAT_HIGH - 1:
            slot.publish(t_ns, SAT_HIGH if raw > 0 else -SAT_HIGH - 1, SampleStatus.SATURATED)
            return
        self._last_raw[i] = raw
        slot.publish(t_ns, raw)
