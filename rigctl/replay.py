"""Offline replay of a recorded trace through the live loop's own controller.

Trace rows are sample instants: ``t_s`` then one column per mount, in kg
(default) or raw counts; an empty cell means "no new sample from this mount at
this instant" and ``sat`` a saturated code. The controller is ticked at the
loop rate in trace time between rows, exactly as the live loop would be.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from rigctl.config import Config
from rigctl.core.controller import Controller, Transition
from rigctl.mountcsv import MountCsvError, read_header
from rigctl.sampling.slots import SAT_HIGH, SampleStatus

Units = Literal["kg", "raw"]


class TraceError(MountCsvError):
    """Bad trace input; the message names the row, the column and what is allowed."""


@dataclass(frozen=True)
class ReplayResult:
    transitions: list[dict[str, Any]]
    summary: dict[str, Any]


def _rows(f: TextIO, mount_names: tuple[str, ...], source: str) -> Iterator[tuple[int, int,
                                                                                  list[str]]]:
    """(row number, t_ns, cells in mount order) for each data row."""
    reader = csv.reader(f)
    width, cols, _ = read_header(reader, mount_names, source, TraceError)
    order = [cols[m] for m in mount_names]
    last_t = -math.inf
    for rowno, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != width:
            raise TraceError(f"{source}: row {rowno}: {len(row)} cells, the header has {width}")
        try:
            t = float(row[0])
        except ValueError:
            raise TraceError(f"{source}: row {rowno}, column 't_s': '{row[0]}' is not a "
                             "number") from None
        if not math.isfinite(t) or t < last_t:
            raise TraceError(f"{source}: row {rowno}, column 't_s': times must be finite and "
                             f"must not go back ({row[0]} after {last_t})")
        last_t = t
        yield rowno, round(t * 1e9), [row[j] for j in order]


def replay(
    f: TextIO,
    cfg: Config,
    limit_kg: float,
    therapist_kg: float,
    units: Units = "kg",
    source: str = "trace",
    on_transition: Callable[[dict[str, Any]], None] | None = None,
) -> ReplayResult:
    """Run the trace through a fresh :class:`Controller`; return transitions and summary."""
    names = cfg.mount_names
    n = len(names)
    # kg traces go through an identity calibration; raw ones use the config's
    identity = units == "kg"
    ctl = Controller(cfg, offsets=[0.0] * n if identity else None,
                     scales=[1.0] * n if identity else None)
    est = ctl.estimator
    feed = est.feed
    tick = ctl.tick
    tick_ns = cfg.tick_ns
    sat_raw = float(SAT_HIGH)
    saturated = SampleStatus.SATURATED
    ok = SampleStatus.OK
    transitions: list[dict[str, Any]] = []
    start_ns: int | None = None
    next_tick = 0
    rows = 0
    wall0 = time.perf_counter()

    def emit(trs: Iterable[Transition]) -> None:
        for tr in trs:
            d = {"t_s": round(tr.t_ns / 1e9, 6), "state": tr.state.value,
                 "foot_load_kg": round(tr.foot_kg, 3)}
            transitions.append(d)
            if on_transition is not None:
                on_transition(d)

    pending = ctl.transitions
    for rowno, t_ns, cells in _rows(f, names, source):
        rows += 1
        if start_ns is None:
            start_ns = next_tick = t_ns
            pending.clear()
            ctl.start_session(limit_kg, therapist_kg, t_ns)
            emit(pending)
            pending.clear()
        # tick up to (not including) this row's instant; the row is fed, then ticked
        while next_tick < t_ns:
            tick(next_tick)
            next_tick += tick_ns
            if pending:
                emit(pending)
                pending.clear()
        for i in range(n):
            cell = cells[i]
            if not cell:
                continue
            if cell == "sat":
                feed(i, t_ns, sat_raw, saturated)
                continue
            try:
                v = float(cell)
            except ValueError:
                raise TraceError(f"{source}: row {rowno}, column '{names[i]}': '{cell}' is not "
                                 f"a number, empty (no sample) or 'sat'") from None
            if not math.isfinite(v):
                raise TraceError(f"{source}: row {rowno}, column '{names[i]}': must be finite")
            feed(i, t_ns, v, ok)
    if start_ns is None:
        raise TraceError(f"{source}: no data rows after the header")
    tick(next_tick)  # the last row's instant
    emit(pending)
    pending.clear()
    end_ns = next_tick
    stats = ctl.session
    assert stats is not None
    summary = stats.summary(end_ns)
    summary.pop("transitions", None)
    summary.pop("session_id", None)
    wall = time.perf_counter() - wall0
    trace_s = (end_ns - start_ns) / 1e9
    summary.update({
        "start_t_s": round(start_ns / 1e9, 6),
        "transitions": len(transitions),
        "rows": rows,
        "ticks": (end_ns - start_ns) // tick_ns + 1,
        "final_state": ctl.state.value,
        "replay_wall_s": round(wall, 3),
        "speed_x": round(trace_s / wall, 1) if wall > 0 else None,
    })
    return ReplayResult(transitions, summary)
