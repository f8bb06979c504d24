"""Prometheus metrics: gathered in the core process, rendered by the API at ``/metrics``.

The core answers the ``metrics`` socket request with :func:`CoreMetrics.snapshot`
(plain JSON: loop histograms as cumulative buckets, counters, gauges); the API
turns it into the Prometheus text format with prometheus-client's metric
families (:func:`render`). Nothing here runs in the loop thread: the loop only
increments its histogram bins, and a scrape reads them from a socket thread.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from rigctl import __version__
from rigctl.core.histogram import MicrosHistogram
from rigctl.core.warning import State

if TYPE_CHECKING:
    from rigctl.core.controller import Transition
    from rigctl.core.runtime import Core

#: histogram bucket edges, microseconds: a 200 Hz period is 5000 us
EDGES_US = [10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def histogram_snapshot(h: MicrosHistogram, edges_us: list[int] = EDGES_US) -> dict[str, Any]:
    """Cumulative counts at each edge, the count (all bins, overflow included) and the sum.

    The loop keeps recording meanwhile; the count is read in the same pass as
    the buckets, so the buckets never exceed it.
    """
    edges = [e for e in edges_us if e < h.max_us]
    cum = h.buckets([*edges, h.max_us])
    return {"edges_us": edges, "buckets": cum[:-1], "count": cum[-1], "sum_us": h.total_us}


class StateClock:
    """Seconds spent in each warning state and transitions into each, since the core started."""

    def __init__(self, state: State, now_ns: int) -> None:
        self._lock = threading.Lock()
        self.state = state
        self.since_ns = now_ns
        self.seconds: dict[str, float] = {s.value: 0.0 for s in State}
        self.entries: dict[str, int] = {s.value: 0 for s in State}

    def on_transition(self, tr: Transition) -> None:
        with self._lock:
            if tr.state is self.state:
                return
            if tr.t_ns > self.since_ns:
                self.seconds[self.state.value] += (tr.t_ns - self.since_ns) / 1e9
                self.since_ns = tr.t_ns
            self.state = tr.state
            self.entries[tr.state.value] += 1

    def snapshot(self, now_ns: int) -> tuple[dict[str, float], dict[str, int]]:
        with self._lock:
            seconds = dict(self.seconds)
            seconds[self.state.value] += max(0, now_ns - self.since_ns) / 1e9
            return seconds, dict(self.entries)


def _sinks(outputs: Any) -> list[Any]:
    return list(getattr(outputs, "sinks", [outputs]))


class CoreMetrics:
    """Everything ``/metrics`` shows, read from a running core (any thread but the loop)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.clock = StateClock(core.controller.state, time.monotonic_ns())
        core.on_transition(self.clock.on_transition)

    def snapshot(self) -> dict[str, Any]:
        core = self.core
        ctl = core.controller
        est = ctl.estimator
        loop = core.loop
        now = time.monotonic_ns()
        seconds, entries = self.clock.snapshot(now)
        outputs = []
        for sink in _sinks(core.outputs):
            st = sink.status()
            outputs.append({"kind": str(st.get("kind", type(sink).__name__)),
                            "grip": st.get("grip"), "faults": int(st.get("faults", 0))})
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "version": __version__,
            "rig": core.config.rig.name,
            "backend": core.config.rig.backend,
            "state": ctl.state.value,
            "state_seconds": seconds,
            "transitions": entries,
            "foot_load_kg": ctl.foot_kg,
            "bar_load_kg": est.bar_kg,
            "limit_kg": ctl.limit_kg,
            "session_active": ctl.session is not None,
            "mounts": [{"name": name, "load_kg": est.mount_kg[i],
                        "ok": est.mount_fault[i] is None,
                        "faults": dict(est.fault_counts[i])}
                       for i, name in enumerate(ctl.mount_names)],
            "outputs": outputs,
            "loop": {
                "period_error": histogram_snapshot(loop.period_error),
                "compute": histogram_snapshot(loop.compute),
                "ticks": loop.ticks,
                "overruns": loop.overruns,
                "tick_errors": loop.tick_errors,
                "fault": loop.loop_fault,
                "sched_fifo": loop.fifo_active,
                "rate_hz": loop.rate_hz,
            },
            "process": {"cpu_seconds": ru.ru_utime + ru.ru_stime,
                        "max_rss_bytes": ru.ru_maxrss * 1024,
                        "rss_bytes": _rss_bytes()},
        }


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _histogram(name: str, doc: str, h: Mapping[str, Any]) -> HistogramMetricFamily:
    buckets = [(f"{e / 1e6:g}", float(c)) for e, c in zip(h["edges_us"], h["buckets"],
                                                          strict=True)]
    buckets.append(("+Inf", float(h["count"])))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=h["sum_us"] / 1e6)


def families(core: Mapping[str, Any] | None, sessions: Mapping[str, int] | None
             ) -> Iterator[Metric]:
    """Metric families from a core snapshot (``None``: the core is away) and session counts."""
    yield GaugeMetricFamily("rigctl_core_up", "1 when the core process answered this scrape",
                            value=1 if core is not None else 0)
    if sessions is not None:
        g = GaugeMetricFamily("rigctl_sessions", "Sessions in the database by status",
                              labels=["status"])
        for status, n in sorted(sessions.items()):
            g.add_metric([status], n)
        yield g
    if core is None:
        return
    info = GaugeMetricFamily("rigctl_build_info", "rigctl version and the rig it runs",
                             labels=["version", "rig", "backend"])
    info.add_metric([core["version"], core["rig"], core["backend"]], 1)
    yield info

    lp = core["loop"]
    yield _histogram("rigctl_loop_period_error_seconds",
                     "Lateness of each loop tick against its absolute deadline",
                     lp["period_error"])
    yield _histogram("rigctl_loop_tick_compute_seconds",
                     "Time each loop tick took to compute (estimate, state, outputs)",
                     lp["compute"])
    yield CounterMetricFamily("rigctl_loop_ticks", "Loop ticks run", value=lp["ticks"])
    yield CounterMetricFamily("rigctl_loop_overruns", "Ticks that ran past the next deadline",
                              value=lp["overruns"])
    yield CounterMetricFamily("rigctl_loop_tick_errors", "Ticks that raised",
                              value=lp["tick_errors"])
    yield GaugeMetricFamily("rigctl_loop_fault", "1 while the loop itself is faulted",
                            value=int(lp["fault"]))
    yield GaugeMetricFamily("rigctl_loop_sched_fifo", "1 when the loop thread runs SCHED_FIFO",
                            value=int(lp["sched_fifo"]))
    yield GaugeMetricFamily("rigctl_loop_rate_hz", "Configured loop rate", value=lp["rate_hz"])

    state = GaugeMetricFamily("rigctl_state", "1 for the current warning state",
                              labels=["state"])
    seconds = CounterMetricFamily("rigctl_state_seconds",
                                  "Time spent in each warning state since the core started",
                                  labels=["state"])
    trans = CounterMetricFamily("rigctl_transitions", "Transitions into each warning state",
                                labels=["state"])
    for s in State:
        state.add_metric([s.value], 1 if core["state"] == s.value else 0)
        seconds.add_metric([s.value], core["state_seconds"].get(s.value, 0.0))
        trans.add_metric([s.value], core["transitions"].get(s.value, 0))
    yield state
    yield seconds
    yield trans

    faults = CounterMetricFamily("rigctl_sensor_faults", "Sensor faults by mount and kind",
                                 labels=["mount", "kind"])
    mount_ok = GaugeMetricFamily("rigctl_mount_ok", "1 while a mount reads without a fault",
                                 labels=["mount"])
    mount_kg = GaugeMetricFamily("rigctl_mount_load_kg", "Load on each mount", labels=["mount"])
    for m in core["mounts"]:
        for kind, n in sorted(m["faults"].items()):
            faults.add_metric([m["name"], kind], n)
        mount_ok.add_metric([m["name"]], int(m["ok"]))
        mount_kg.add_metric([m["name"]], m["load_kg"])
    yield faults
    yield mount_ok
    yield mount_kg

    haptic = CounterMetricFamily("rigctl_haptic_faults",
                                 "I2C errors of each DRV2605L haptic driver", labels=["grip"])
    out = CounterMetricFamily("rigctl_output_faults",
                              "Failed output writes per sink (gpio: LEDs, buzzer, PWM motor)",
                              labels=["sink"])
    for o in core["outputs"]:
        if o["kind"] == "drv2605":
            haptic.add_metric([str(o["grip"])], o["faults"])
        out.add_metric([o["kind"] if o["grip"] is None else f"{o['kind']}:{o['grip']}"],
                       o["faults"])
    yield haptic
    yield out

    yield GaugeMetricFamily("rigctl_foot_load_kg", "Foot load on the client now",
                            value=core["foot_load_kg"])
    yield GaugeMetricFamily("rigctl_bar_load_kg", "Load on the bars now",
                            value=core["bar_load_kg"])
    if core["limit_kg"] is not None:
        yield GaugeMetricFamily("rigctl_limit_kg", "The active session's foot-load limit",
                                value=core["limit_kg"])
    yield GaugeMetricFamily("rigctl_session_active", "1 while a session is active",
                            value=int(core["session_active"]))
    proc = core["process"]
    yield CounterMetricFamily("rigctl_core_cpu_seconds", "CPU time of the core process",
                              value=proc["cpu_seconds"])
    yield GaugeMetricFamily("rigctl_core_resident_memory_bytes", "RSS of the core process",
                            value=proc["rss_bytes"])


class _Snapshot(Collector):
    def __init__(self, core: Mapping[str, Any] | None, sessions: Mapping[str, int] | None):
        self.core = core
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        return families(self.core, self.sessions)


def render(core: Mapping[str, Any] | None, sessions: Mapping[str, int] | None) -> bytes:
    """The Prometheus text exposition for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(core, sessions))
    return generate_latest(registry)
