"""Build replay traces from a foot-load profile, as a recorded session would look."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from rigctl.config import Config, load_config
from rigctl.replay import replay

MOUNTS = ("bar_a_left", "bar_a_right", "bar_b_left", "bar_b_right")
SPS = 80.0
TICK = 0.005


def make_trace(
    foot: Callable[[float], float],
    seconds: float,
    therapist_kg: float = 70.0,
    cell: Callable[[float, int, float], str | None] | None = None,
) -> str:
    """One row per conversion instant (80 SPS, all mounts), bar load split evenly.

    A +-5 g alternation keeps every mount "moving" (a real cell is never
    perfectly still). ``cell(t, mount, kg)`` may override a cell's text.
    """
    lines = ["t_s," + ",".join(MOUNTS)]
    for k in range(int(seconds * SPS) + 1):
        t = k / SPS
        per = (therapist_kg - foot(t)) / 4
        cells = []
        for i in range(4):
            kg = per + (0.005 if (k + i) % 2 else -0.005)
            text = cell(t, i, kg) if cell is not None else None
            cells.append(f"{kg:.4f}" if text is None else text)
        lines.append(f"{t:.4f}," + ",".join(cells))
    return "\n".join(lines) + "\n"


def run(trace: str, limit_kg: float = 40.0, therapist_kg: float = 70.0,
        cfg: Config | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    res = replay(io.StringIO(trace), cfg or load_config(None), limit_kg, therapist_kg)
    return res.transitions, res.summary


def states(transitions: list[dict[str, Any]]) -> list[tuple[str, float]]:
    return [(t["state"], t["t_s"]) for t in transitions]


def step(at: float, before: float, after: float) -> Callable[[float], float]:
    return lambda t: after if t >= at else before


def first_tick_seeing(t_row: float) -> float:
    """The first tick at or after a row instant (ticks are every 5 ms from t=0)."""
    k = -(-round(t_row * 1e6) // round(TICK * 1e6))
    return k * TICK
