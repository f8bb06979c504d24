"""A suggested foot-load limit learned from a client's comfort-button presses.

A press says "too much" at that foot load. Over past sessions the presses of
one client gather around what that client tolerates, so the median load at
the press, less a margin, is a limit the clinician may want. It is only a
suggestion: nothing here changes a limit; a clinician accepts it with the
ordinary (audited) PATCH of the client.

Guards, each with a stated reason in the answer:

- at least ``MIN_PRESSES`` presses in at least ``MIN_SESSIONS`` sessions: one
  bad day or one nervous press is not a pattern;
- presses below the rig's lowest allowed limit are set aside: a press with
  (almost) nobody on the back says nothing about load;
- only the ``RECENT_SESSIONS`` newest sessions with presses count: tolerance
  changes over a course of treatment;
- a suggestion is only ever lower than the current limit: a comfort signal
  never argues for more load.

Pure: rows in, a JSON-ready dict out.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MIN_PRESSES = 3
MIN_SESSIONS = 2
RECENT_SESSIONS = 10
#: margin below the median: the same rule as the warning hysteresis (DESIGN section 6)
MARGIN_FRACTION = 0.05
MARGIN_MIN_KG = 1.5
#: suggestions are rounded down to this step (a clinic sets limits in round numbers)
STEP_KG = 0.5

RULE = (f"median foot load at the press minus max({MARGIN_FRACTION:.0%} of it, "
        f"{MARGIN_MIN_KG:g} kg), rounded down to {STEP_KG:g} kg and kept within the rig's "
        f"allowed limits; needs >= {MIN_PRESSES} presses in >= {MIN_SESSIONS} sessions "
        f"(the newest {RECENT_SESSIONS} sessions with presses); only ever lower than the "
        "current limit")


@dataclass(frozen=True)
class Press:
    """One stored press, with the session it belongs to."""

    session_id: str
    started_at: str
    limit_kg: float
    t_s: float
    foot_load_kg: float
    peak_2s_kg: float


def margin_kg(median_kg: float) -> float:
    return max(MARGIN_FRACTION * median_kg, MARGIN_MIN_KG)


def _floor_step(kg: float) -> float:
    return math.floor(kg / STEP_KG + 1e-9) * STEP_KG


def suggest_limit(presses: Iterable[Press], current_limit_kg: float, min_limit_kg: float,
                  max_limit_kg: float) -> dict[str, Any]:
    """``{"suggested_limit_kg": kg or None, "suggestion": {reason, rule, evidence}}``.

    ``presses`` come newest session first (as ``Database.client_ease_events``
    gives them); within a session in press order.
    """
    sessions: dict[str, dict[str, Any]] = {}
    for p in presses:
        s = sessions.get(p.session_id)
        if s is None:
            if len(sessions) == RECENT_SESSIONS:
                continue  # older than the newest sessions with presses
            s = sessions[p.session_id] = {"session_id": p.session_id,
                                          "started_at": p.started_at,
                                          "limit_kg": p.limit_kg, "presses": []}
        s["presses"].append({"t_s": p.t_s, "foot_load_kg": p.foot_load_kg,
                             "peak_2s_kg": p.peak_2s_kg,
                             "counted": p.foot_load_kg >= min_limit_kg})
    evidence = list(sessions.values())
    loads = [q["foot_load_kg"] for s in evidence for q in s["presses"] if q["counted"]]
    n_sessions = sum(1 for s in evidence if any(q["counted"] for q in s["presses"]))
    set_aside = sum(1 for s in evidence for q in s["presses"] if not q["counted"])
    out: dict[str, Any] = {"rule": RULE, "presses": len(loads), "sessions": n_sessions,
                           "set_aside": set_aside, "median_foot_load_kg": None,
                           "margin_kg": None, "computed_limit_kg": None, "evidence": evidence}
    if len(loads) < MIN_PRESSES or n_sessions < MIN_SESSIONS:
        out["reason"] = (
            f"not enough evidence yet: needs at least {MIN_PRESSES} presses in at least "
            f"{MIN_SESSIONS} sessions; this client has {len(loads)} in {n_sessions}"
            + (f" ({set_aside} more below {min_limit_kg:g} kg set aside: no real load on "
               "the back)" if set_aside else ""))
        return {"suggested_limit_kg": None, "suggestion": out}
    median = statistics.median(loads)
    margin = margin_kg(median)
    computed = min(max(_floor_step(median - margin), min_limit_kg), max_limit_kg)
    out.update(median_foot_load_kg=round(median, 3), margin_kg=round(margin, 3),
               computed_limit_kg=computed)
    basis = (f"{len(loads)} presses in {n_sessions} sessions at a median foot load of "
             f"{median:.1f} kg, less a margin of {margin:.1f} kg, give {computed:g} kg")
    if computed >= current_limit_kg:
        out["reason"] = (f"{basis}: not below the current limit of {current_limit_kg:g} kg, "
                         "so nothing to suggest (a press never argues for more load)")
        return {"suggested_limit_kg": None, "suggestion": out}
    out["reason"] = (f"{basis}; the current limit is {current_limit_kg:g} kg. Accept it by "
                     "setting foot_load_limit_kg (PATCH the client; audited)")
    return {"suggested_limit_kg": computed, "suggestion": out}
