"""Comfort-button presses in the session trace CSV: a last column, ``ease_press``.

The trace is sampled at 50 Hz and a press falls between two rows, so the row
nearest to each press carries its exact session time (s, 3 decimals); every
other row leaves the column empty. Readers that pick columns by name see the
trace unchanged; the press stays exact without inventing rows.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

COLUMN = "ease_press"


def mark_presses(lines: Sequence[str], press_t_s: Iterable[float]) -> list[str]:
    """``lines`` (header first, each ending in a newline) with the ``ease_press`` column."""
    if not lines:
        return []
    rows = [r.rstrip("\n") for r in lines[1:]]
    times = [float(r.split(",", 1)[0]) for r in rows]
    marks: dict[int, list[str]] = {}
    for t in sorted(press_t_s):
        if not times:
            break
        i = bisect_left(times, t)
        j = min((k for k in (i - 1, i) if 0 <= k < len(times)),
                key=lambda k: abs(times[k] - t))
        marks.setdefault(j, []).append(f"{t:.3f}")
    out = [lines[0].rstrip("\n") + f",{COLUMN}\n"]
    out += [f"{r},{';'.join(marks.get(j, ()))}\n" for j, r in enumerate(rows)]
    return out
