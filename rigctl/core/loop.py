"""The 200 Hz loop runner: absolute deadlines, sleep then spin, overrun accounting.

A thin shell: it owns the clock and the thread, and calls one tick function.
Deadlines are absolute on ``time.monotonic_ns`` (no drift from sleep error);
the thread sleeps to ``spin_us`` before the deadline and spins the rest.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable

from rigctl.core.histogram import MicrosHistogram

log = logging.getLogger(__name__)


class LoopRunner:
    def __init__(
        self,
        tick: Callable[[int], None],
        rate_hz: int = 200,
        spin_us: int = 300,
        sched_fifo: bool = True,
        fifo_priority: int = 50,
        overrun_fault_streak: int = 5,
        stall_fault_ms: float | None = None,
        name: str = "rigctl-loop",
    ) -> None:
        self.tick = tick
        self.period_ns = 1_000_000_000 // rate_hz
        self.rate_hz = rate_hz
        self.spin_ns = spin_us * 1000
        self.sched_fifo = sched_fifo
        self.fifo_priority = fifo_priority
        self.overrun_fault_streak = overrun_fault_streak
        #: one overrun this long (from the tick's deadline to its end) is a fault on its
        #: own: the loop was as blind as a stale sensor (the Core passes stale_after_ms)
        self.stall_fault_ns = int(stall_fault_ms * 1e6) if stall_fault_ms else None
        self.period_error = MicrosHistogram()
        self.compute = MicrosHistogram()
        self.ticks = 0
        self.overruns = 0
        self.overrun_streak = 0
        self.loop_fault = False
        self.last_tick_ns = 0
        self.started_ns = 0
        self.fifo_active = False
        self.tick_errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.first_tick = threading.Event()
        #: set by tests to stall the loop (``rigctl`` never sets it)
        self.stall_s = 0.0
        self._stats_cache: tuple[float, dict[str, float]] | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _enable_fifo(self) -> None:
        if not self.sched_fifo:
            log.info("loop: SCHED_FIFO disabled in config; running SCHED_OTHER")
            return
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.fifo_priority))
            self.fifo_active = True
            log.info("loop: SCHED_FIFO priority %d", self.fifo_priority)
        except (PermissionError, OSError, AttributeError) as e:
            log.warning("loop: SCHED_FIFO not permitted (%s); running SCHED_OTHER - timing "
                        "may suffer under load. Grant CAP_SYS_NICE or LimitRTPRIO.", e)

    def _run(self) -> None:
        self._enable_fifo()
        gc.collect()
        gc.freeze()  # start-up objects never scanned again: shorter GC pauses
        mono = time.monotonic_ns
        sleep = time.sleep
        period = self.period_ns
        spin = self.spin_ns
        err_hist = self.period_error.record
        cpu_hist = self.compute.record
        tick = self.tick
        self.started_ns = deadline = mono() + period
        while not self._stop.is_set():
            remaining = deadline - spin - mono()
            if remaining > 0:
                sleep(remaining / 1e9)
            now = mono()
            while now < deadline:
                now = mono()
            try:
                tick(now)
            except Exception:  # the loop must outlive a bug in one tick; fault is raised below
                self.tick_errors += 1
                self.loop_fault = True
                if self.tick_errors <= 3:
                    log.exception("loop: tick raised")
            done = mono()
            if self.stall_s:
                sleep(self.stall_s)
                done = mono()
            err_hist((now - deadline) // 1000)
            cpu_hist((done - now) // 1000)
            self.ticks += 1
            self.last_tick_ns = done
            if self.ticks == 1:
                self.first_tick.set()
            blind_ns = done - deadline  # since this tick was due
            deadline += period
            if done > deadline:
                # overran into the next period: skip the missed deadlines, count it
                missed = (done - deadline) // period + 1
                deadline += missed * period
                self.overruns += 1
                self.overrun_streak += 1
                if self.overrun_streak >= self.overrun_fault_streak or (
                        self.stall_fault_ns is not None and blind_ns >= self.stall_fault_ns):
                    self.loop_fault = True
            else:
                self.overrun_streak = 0
                if self.tick_errors == 0:
                    self.loop_fault = False
        gc.unfreeze()

    def stats(self, max_age_s: float = 0.0) -> dict[str, float | int | bool]:
        """Loop figures. Percentiles are a scan of the histogram, so callers at
        status rate (20 Hz) pass ``max_age_s`` to reuse percentiles at most that
        old; counters and the fault flag are always fresh."""
        cached = self._stats_cache
        if max_age_s and cached is not None and time.monotonic() - cached[0] < max_age_s:
            pct = cached[1]
        else:
            err, cpu = self.period_error, self.compute
            pct = {
                "period_error_p50_us": err.percentile(50),
                "period_error_p99_us": err.percentile(99),
                "jitter_p99_ms": round(err.percentile(99) / 1000, 3),
                "compute_p50_us": cpu.percentile(50),
                "compute_p99_us": cpu.percentile(99),
            }
            self._stats_cache = (time.monotonic(), pct)
        elapsed = (self.last_tick_ns - self.started_ns) / 1e9 if self.ticks > 1 else 0.0
        return {
            "rate_hz": round(self.ticks / elapsed, 1) if elapsed > 0 else 0.0,
            "ticks": self.ticks,
            "overruns": self.overruns,
            "period_error_max_us": self.period_error.max,
            **pct,
            "sched_fifo": self.fifo_active,
            "loop_fault": self.loop_fault,
        }
