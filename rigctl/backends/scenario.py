"""Scenario CSV (DESIGN section 8): true mount loads over time, plus injected faults.

Format: a header ``t_s,<mount>...[,fault:<mount>...]``; loads in kg are linear
between rows; a ``fault:<mount>`` cell (``ok|disconnect|saturate|spike|stuck``)
holds from its row until the next row that names another mode.
"""

from __future__ import annotations

import bisect
import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from rigctl.mountcsv import MountCsvError, read_header

FAULT_MODES = ("ok", "disconnect", "saturate", "spike", "stuck")
MAX_ROWS = 1_000_000


class ScenarioError(MountCsvError):
    """A scenario that cannot be played; the message names the row and column."""


@dataclass(frozen=True)
class Scenario:
    mounts: tuple[str, ...]
    times: tuple[float, ...]
    loads: tuple[tuple[float, ...], ...]  # per mount, per row
    faults: tuple[tuple[str, ...], ...]  # per mount, per row
    name: str = "scenario"

    @property
    def duration_s(self) -> float:
        return self.times[-1]

    def load(self, mount: int, t_s: float) -> float:
        times = self.times
        ys = self.loads[mount]
        if t_s <= times[0]:
            return ys[0]
        if t_s >= times[-1]:
            return ys[-1]
        k = bisect.bisect_right(times, t_s)
        t0, t1 = times[k - 1], times[k]
        y0, y1 = ys[k - 1], ys[k]
        return y0 + (y1 - y0) * (t_s - t0) / (t1 - t0)

    def fault(self, mount: int, t_s: float) -> str:
        k = bisect.bisect_right(self.times, t_s) - 1
        return self.faults[mount][max(k, 0)]


def parse_scenario(text: str, mount_names: Sequence[str], source: str = "scenario") -> Scenario:
    reader = csv.reader(io.StringIO(text))
    width, load_cols, extra = read_header(reader, mount_names, source, ScenarioError,
                                          prefixes=("fault:",))
    fault_cols = extra["fault:"]
    names = list(mount_names)

    times: list[float] = []
    loads: list[list[float]] = [[] for _ in names]
    faults: list[list[str]] = [[] for _ in names]
    for rowno, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(times) >= MAX_ROWS:
            raise ScenarioError(f"{source}: more than {MAX_ROWS} rows")
        if len(row) != width:
            raise ScenarioError(f"{source}: row {rowno}: {len(row)} cells, the header has {width}")
        t = _number(row[0], source, rowno, "t_s")
        if times and t <= times[-1]:
            raise ScenarioError(f"{source}: row {rowno}, column 't_s': times must increase "
                                f"({t} after {times[-1]})")
        if t < 0:
            raise ScenarioError(f"{source}: row {rowno}, column 't_s': must be >= 0")
        times.append(t)
        for i, name in enumerate(names):
            kg = _number(row[load_cols[name]], source, rowno, name)
            if not -50.0 <= kg <= 1000.0:
                raise ScenarioError(f"{source}: row {rowno}, column '{name}': {kg} kg is "
                                    "outside -50..1000 kg")
            loads[i].append(kg)
            mode = "ok"
            if name in fault_cols:
                mode = row[fault_cols[name]].strip() or (faults[i][-1] if faults[i] else "ok")
                if mode not in FAULT_MODES:
                    raise ScenarioError(f"{source}: row {rowno}, column 'fault:{name}': "
                                        f"'{mode}' is not one of {'|'.join(FAULT_MODES)}")
            faults[i].append(mode)
    if not times:
        raise ScenarioError(f"{source}: no data rows after the header")
    return Scenario(tuple(names), tuple(times), tuple(tuple(x) for x in loads),
                    tuple(tuple(f) for f in faults), name=source)


def _number(cell: str, source: str, rowno: int, col: str) -> float:
    try:
        v = float(cell)
    except ValueError:
        raise ScenarioError(f"{source}: row {rowno}, column '{col}': '{cell}' is not a "
                            "number") from None
    if not math.isfinite(v):
        raise ScenarioError(f"{source}: row {rowno}, column '{col}': must be finite")
    return v


def builtin_scenario(name: str, mount_names: Sequence[str]) -> Scenario:
    """A scenario shipped in ``rigctl/scenarios`` (``demo`` is the whole-session demo)."""
    try:
        text = resources.files("rigctl.scenarios").joinpath(f"{name}.csv").read_text()
    except FileNotFoundError:
        raise ScenarioError(f"no built-in scenario '{name}'") from None
    return parse_scenario(text, mount_names, source=f"built-in scenario '{name}'")


def load_scenario(spec: str, mount_names: Sequence[str]) -> Scenario:
    """``spec`` is a built-in name (``demo``) or a CSV path."""
    if "/" not in spec and not spec.endswith(".csv"):
        return builtin_scenario(spec, mount_names)
    try:
        with open(spec, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ScenarioError(f"{spec}: cannot read scenario: {e.strerror or e}") from None
    return parse_scenario(text, mount_names, source=spec)
