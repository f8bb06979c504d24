"""Calibration arithmetic: points -> least-squares line per mount, and the refusal rules.

Pure: no clock, no files, no core. Everything the installer is told when a
calibration is refused is decided here, so the rules are tested exhaustively
without a rig and the wizard, the CLI and the API all give the same reasons.

Model per mount: ``raw = offset + scale * kg`` (HX711 counts), so the live
estimator's ``kg = (raw - offset) / scale`` is its exact inverse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

PointKind = Literal["tare", "mount", "bar"]

#: the lightest known weight accepted: lighter ones drown in a 100 kg cell's noise
MIN_KNOWN_KG = 0.1


class CalibrationRefused(ValueError):
    """A calibration step was refused; the message says why and what to do.

    ``problems`` lists every reason (a commit can break several rules at once).
    """

    def __init__(self, message: str, problems: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


@dataclass(frozen=True)
class Point:
    """One captured calibration point: a known load on one mount and its mean reading."""

    mount: str
    known_kg: float
    raw: float  # mean raw counts over the capture window (after median-of-3)
    spread_raw: float  # max - min of the filtered counts in the window
    n: int  # samples in the window
    saturated: bool = False
    kind: PointKind = "mount"
    at: str = ""  # ISO-8601 UTC time of capture

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Point:
        kind = str(d.get("kind", "mount"))
        if kind not in ("tare", "mount", "bar"):
            raise ValueError(f"point kind '{kind}' is not tare|mount|bar")
        return cls(mount=str(d["mount"]), known_kg=float(d["known_kg"]), raw=float(d["raw"]),
                   spread_raw=float(d["spread_raw"]), n=int(d["n"]),
                   saturated=bool(d.get("saturated", False)),
                   kind=kind,  # type: ignore[arg-type]
                   at=str(d.get("at", "")))


@dataclass(frozen=True)
class FitLimits:
    """What a good calibration looks like (``[calibration]`` in the config)."""

    residual_tolerance_kg: float = 0.2
    scale_ratio_min: float = 0.5
    scale_ratio_max: float = 2.0
    min_span_points: int = 2


@dataclass(frozen=True)
class MountFit:
    mount: str
    offset: float | None  # None when the points do not determine a line
    scale: float | None
    points: tuple[Point, ...]
    residuals_kg: tuple[float | None, ...]  # per point, None for a saturated point
    problems: tuple[str, ...] = ()

    @property
    def max_residual_kg(self) -> float | None:
        rs = [abs(r) for r in self.residuals_kg if r is not None]
        return max(rs) if rs else None

    @property
    def ok(self) -> bool:
        return not self.problems and self.offset is not None

    def to_dict(self) -> dict[str, Any]:
        mr = self.max_residual_kg
        return {
            "mount": self.mount,
            "offset": self.offset,
            "scale": self.scale,
            "points": [p.to_dict() for p in self.points],
            "residuals_kg": [None if r is None else round(r, 4) for r in self.residuals_kg],
            "max_residual_kg": None if mr is None else round(mr, 4),
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class FitResult:
    mounts: dict[str, MountFit] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # rig-level problems (e.g. no tare)

    @property
    def all_problems(self) -> list[str]:
        out = list(self.problems)
        for m in self.mounts.values():
            out.extend(m.problems)
        return out

    @property
    def ok(self) -> bool:
        return not self.all_problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.all_problems,
                "mounts": {k: v.to_dict() for k, v in self.mounts.items()}}


def least_squares(kgs: Sequence[float], raws: Sequence[float]) -> tuple[float, float] | None:
    """(offset, scale) of the line raw = offset + scale * kg; None if kg does not vary."""
    n = len(kgs)
    if n < 2 or n != len(raws):
        return None
    mx = math.fsum(kgs) / n
    my = math.fsum(raws) / n
    sxx = math.fsum((x - mx) ** 2 for x in kgs)
    if sxx <= 1e-12:
        return None
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(kgs, raws, strict=True))
    scale = sxy / sxx
    return my - scale * mx, scale


def _fmt_kg(kg: float) -> str:
    return f"{kg:g}"


def fit_mount(mount: str, points: Sequence[Point], nominal_scale: float,
              limits: FitLimits) -> MountFit:
    """Fit one mount and list every rule it breaks, phrased for the installer."""
    pts = tuple(points)
    problems: list[str] = []
    good = [p for p in pts if not p.saturated]
    for p in pts:
        if p.saturated:
            problems.append(f"{mount}: the {_fmt_kg(p.known_kg)} kg point saturated the "
                            "amplifier (reading off its scale): use a lighter weight or check "
                            "the cell wiring, then capture it again")
    spans = sorted({round(p.known_kg, 6) for p in good if p.known_kg > 0})
    if len(spans) < limits.min_span_points:
        have = ", ".join(f"{_fmt_kg(k)} kg" for k in spans) or "none"
        problems.append(f"{mount}: {len(spans)} known weight(s) captured ({have}); at least "
                        f"{limits.min_span_points} different weights are needed besides the "
                        "tare")
    line = least_squares([p.known_kg for p in good], [p.raw for p in good])
    if line is None:
        return MountFit(mount, None, None, pts, tuple(None for _ in pts), tuple(problems))
    offset, scale = line
    residuals: list[float | None] = []
    for p in pts:
        if p.saturated or scale == 0:
            residuals.append(None)
        else:
            residuals.append((p.raw - (offset + scale * p.known_kg)) / scale)
    lo = abs(nominal_scale) * limits.scale_ratio_min
    hi = abs(nominal_scale) * limits.scale_ratio_max
    if scale == 0 or math.copysign(1.0, scale) != math.copysign(1.0, nominal_scale):
        problems.append(f"{mount}: slope {scale:.0f} counts/kg has the wrong sign (more load "
                        "reads as less): check the cell's signal wires (S+/S-) or the sign of "
                        "the scale in the config")
    elif not lo <= abs(scale) <= hi:
        problems.append(f"{mount}: slope {scale:.0f} counts/kg is implausible (expected "
                        f"{lo:.0f} to {hi:.0f} from the configured {nominal_scale:.0f}): "
                        "check the weights entered, that the weight hung on this mount, "
                        "and the cell wiring")
    else:
        for p, r in zip(pts, residuals, strict=True):
            if r is not None and abs(r) > limits.residual_tolerance_kg:
                problems.append(f"{mount}: residual {r:+.2f} kg at the {_fmt_kg(p.known_kg)} "
                                f"kg point is over the {limits.residual_tolerance_kg:g} kg "
                                "tolerance: was the weight swinging or touching something? "
                                "capture that point again")
    return MountFit(mount, offset, scale, pts, tuple(residuals), tuple(problems))


def fit_all(points: Sequence[Point], nominal_scales: Mapping[str, float],
            limits: FitLimits) -> FitResult:
    """Fit every mount of the rig; a draft without a tare is refused as a whole."""
    problems: list[str] = []
    if not any(p.kind == "tare" for p in points):
        problems.append("no tare in this calibration: start with a tare, nobody on the bars")
    fits = {}
    for name, nominal in nominal_scales.items():
        fits[name] = fit_mount(name, [p for p in points if p.mount == name], nominal, limits)
    unknown = sorted({p.mount for p in points} - set(nominal_scales))
    if unknown:
        problems.append(f"points for unknown mount(s) {', '.join(unknown)}: the rig has "
                        f"{', '.join(nominal_scales)}")
    return FitResult(fits, tuple(problems))


def bar_shares(bar_mounts: Sequence[str], known_kg: float,
               position: float = 0.5) -> dict[str, float]:
    """How a weight hung on a bar divides between its mounts (lever rule).

    ``position`` is the fraction of the bar's length from its first mount to
    its second (0.5 = the middle). A bar carried by two mounts is statically
    determinate, so the shares are exact: first = (1 - position) * W.
    """
    if not 0.0 <= position <= 1.0:
        raise CalibrationRefused(f"position {position:g} is outside 0..1 (fraction of the "
                                 "bar's length from its first mount)")
    if len(bar_mounts) == 1:
        return {bar_mounts[0]: known_kg}
    if len(bar_mounts) != 2:
        raise CalibrationRefused(f"a bar on {len(bar_mounts)} mounts is not statically "
                                 "determinate: hang the weight on one mount at a time")
    first, second = bar_mounts
    return {first: known_kg * (1.0 - position), second: known_kg * position}


def verify_error(known_kg: float, measured_kg: float) -> dict[str, float]:
    """Error of a verification reading in kg and in % of the known weight."""
    if known_kg < MIN_KNOWN_KG:
        raise ValueError(f"known_kg must be at least {MIN_KNOWN_KG} kg")
    err = measured_kg - known_kg
    pct = 100.0 * err / known_kg
    return {"known_kg": round(known_kg, 4), "measured_kg": round(measured_kg, 4),
            "error_kg": round(err, 4), "error_pct": round(pct, 4)}
