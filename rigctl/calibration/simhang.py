"""Hanging a known weight on the simulated rig: a scenario that puts that load on mounts.

Nobody can hang a weight on a simulation, so on the sim backend the wizard,
the CLI and the tests play a short scenario instead: from the loads now, a
swing that dies out, then the new loads held for good (a scenario that does
not loop holds its last row). The procedures then wait for a still reading
exactly as they would for a real weight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def hang_csv(mount_names: Sequence[str], target_kg: Mapping[str, float],
             start_kg: Mapping[str, float] | None = None, settle_s: float = 0.6,
             swing_kg: float = 0.4) -> str:
    """Scenario CSV: loads go from ``start_kg`` to ``target_kg`` (0 for mounts not named)."""
    for name in target_kg:
        if name not in mount_names:
            raise ValueError(f"unknown mount '{name}'; the rig has {', '.join(mount_names)}")
    start = [float((start_kg or {}).get(n, 0.0)) for n in mount_names]
    end = [float(target_kg.get(n, 0.0)) for n in mount_names]
    moving = [abs(e - s) > 1e-9 for s, e in zip(start, end, strict=True)]

    def row(t: float, swing: float) -> str:
        vals = [e + (swing if m and e > 0 else 0.0) for e, m in zip(end, moving, strict=True)]
        return ",".join([f"{t:.3f}", *(f"{v:.4f}" for v in vals)])

    lines = ["t_s," + ",".join(mount_names),
             ",".join(["0.000", *(f"{v:.4f}" for v in start)]),
             row(settle_s * 0.4, swing_kg),
             row(settle_s * 0.7, -swing_kg / 2),
             row(settle_s, 0.0)]
    return "\n".join(lines) + "\n"
