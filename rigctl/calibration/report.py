"""The calibration report an installer hands to the clinic: JSON and a printable HTML page.

The page is self-contained (inline CSS and SVG, no scripts, no external
files) so it can be mailed, archived or printed as it is. Per mount it plots
the captured points against the fitted line and the residuals against the
tolerance, and it lists the verifications with pass/fail.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from rigctl.calibration.store import CalibrationFile, CalibrationRecord, utc_now
from rigctl.config import Config

FORMAT = "rigctl-calibration-report"


def build_report(cal: CalibrationFile, cfg: Config, version: int | None = None) -> dict[str, Any]:
    """The report of one committed calibration (default: the one in force)."""
    rec: CalibrationRecord | None
    if version is None:
        rec = cal.current
        if rec is None:
            raise LookupError("no calibration has been committed on this rig yet")
    else:
        found = [r for r in cal.history if r.version == version]
        if not found:
            raise LookupError(f"calibration version {version} does not exist (versions 1-"
                              f"{cal.version})")
        rec = found[0]
    tol = cfg.calibration.residual_tolerance_kg
    mounts: dict[str, Any] = {}
    for name, mc in rec.mounts.items():
        pts = []
        pairs = zip(mc.points, mc.residuals_kg or (None,) * len(mc.points), strict=False)
        for p, r in sorted(pairs, key=lambda pr: (pr[0].known_kg, pr[0].kind)):
            pts.append({"kind": p.kind, "known_kg": p.known_kg, "raw": round(p.raw, 1),
                        "residual_kg": None if r is None else round(r, 4),
                        "spread_kg": round(p.spread_raw / abs(mc.scale), 4), "n": p.n,
                        "saturated": p.saturated, "at": p.at})
        rs = [abs(r) for r in mc.residuals_kg if r is not None]
        m_cfg = cfg.mounts.get(name)
        mounts[name] = {
            "bar": m_cfg.bar if m_cfg else None,
            "capacity_kg": m_cfg.capacity_kg if m_cfg else None,
            "offset": round(mc.offset, 2), "scale": round(mc.scale, 3),
            "points": pts, "max_residual_kg": round(max(rs), 4) if rs else None,
        }
    ver = [dict(v) for v in rec.verifications]
    checked: dict[str, float] = {}
    for v in ver:
        for m, e in (v.get("mounts") or {}).items():
            if "error_pct" in e:
                checked[m] = max(checked.get(m, 0.0), abs(float(e["error_pct"])))
    limit = cfg.calibration.verify_tolerance_pct
    return {
        "format": FORMAT,
        "generated_at": utc_now(),
        "rig": {"name": cfg.rig.name, "backend": cfg.rig.backend},
        "calibration": {"version": rec.version, "committed_at": rec.committed_at,
                        "installer": rec.installer, "in_force": rec is cal.current,
                        "residual_tolerance_kg": tol},
        "mounts": mounts,
        "verifications": ver,
        "verdict": {
            "verify_tolerance_pct": limit,
            "mounts_verified": sorted(checked),
            "mounts_not_verified": sorted(set(rec.mounts) - set(checked)),
            "worst_error_pct": round(max(checked.values()), 4) if checked else None,
            "all_verified_within_tolerance": bool(checked) and set(checked) == set(rec.mounts)
            and all(e <= limit for e in checked.values()),
        },
        "history": [{"version": r.version, "committed_at": r.committed_at,
                     "installer": r.installer} for r in cal.history],
    }


# -- HTML ---------------------------------------------------------------------------

def _e(x: Any) -> str:
    return html.escape(str(x))


def _num(x: Any, fmt: str = "{:.3f}") -> str:
    return "-" if x is None else fmt.format(x)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    out = []
    t = first
    while t <= hi + 1e-9:
        out.append(round(t, 10))
        t += step
    return out


def mount_svg(name: str, m: dict[str, Any], tolerance_kg: float) -> str:
    """Points and fitted line (counts vs kg) above residuals vs kg, with the tolerance band."""
    w, h1, h2, left, right, top, gap = 420, 200, 90, 70, 15, 12, 56
    pts = [p for p in m["points"] if not p["saturated"]]
    max_kg = float(max([*(p["known_kg"] for p in m["points"]), 1.0])) * 1.1
    off, scale = float(m["offset"]), float(m["scale"])

    def line(kg: float) -> float:
        return off + scale * kg

    ys = [line(0.0), line(max_kg)] + [p["raw"] for p in pts]
    ylo, yhi = float(min(ys)), float(max(ys))
    pad = (yhi - ylo) * 0.05 or 1.0
    ylo, yhi = ylo - pad, yhi + pad
    pw = w - left - right

    def sx(kg: float) -> float:
        return left + pw * kg / max_kg

    def sy(raw: float) -> float:
        return top + h1 * (1 - (raw - ylo) / (yhi - ylo))

    res = [abs(p["residual_kg"]) for p in pts if p["residual_kg"] is not None]
    rmax = float(max([*res, tolerance_kg])) * 1.25
    r_top = top + h1 + gap

    def sr(r: float) -> float:
        return r_top + h2 / 2 * (1 - r / rmax)

    o: list[str] = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" '
                    f'height="{r_top + h2 + 30}" role="img" '
                    f'aria-label="calibration of {_e(name)}">']
    o.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{h1}" class="frame"/>')
    for t in _ticks(0, max_kg):
        o.append(f'<line x1="{sx(t):.1f}" y1="{top + h1}" x2="{sx(t):.1f}" '
                 f'y2="{top + h1 + 4}" class="axis"/>')
        o.append(f'<text x="{sx(t):.1f}" y="{top + h1 + 15}" class="tick" '
                 f'text-anchor="middle">{t:g}</text>')
        o.append(f'<text x="{sx(t):.1f}" y="{r_top + h2 + 15}" class="tick" '
                 f'text-anchor="middle">{t:g}</text>')
    for t in _ticks(ylo, yhi, 4):
        o.append(f'<text x="{left - 4}" y="{sy(t) + 4:.1f}" class="tick" '
                 f'text-anchor="end">{t:,.0f}</text>')
    o.append(f'<line x1="{sx(0):.1f}" y1="{sy(line(0)):.1f}" x2="{sx(max_kg):.1f}" '
             f'y2="{sy(line(max_kg)):.1f}" class="fit"/>')
    for p in m["points"]:
        if p["saturated"]:
            o.append(f'<text x="{sx(p["known_kg"]):.1f}" y="{top + 12}" class="sat" '
                     f'text-anchor="middle">saturated</text>')
            continue
        o.append(f'<circle cx="{sx(p["known_kg"]):.1f}" cy="{sy(p["raw"]):.1f}" r="4" '
                 f'class="pt {p["kind"]}"><title>{p["known_kg"]:g} kg: {p["raw"]:,.0f} '
                 f'counts</title></circle>')
    o.append(f'<text x="{left + pw / 2}" y="{top + h1 + 28}" class="lbl" '
             'text-anchor="middle">known load (kg) -&gt; raw counts</text>')
    # residuals
    o.append(f'<rect x="{left}" y="{r_top}" width="{pw}" height="{h2}" class="frame"/>')
    band_top, band_bot = sr(tolerance_kg), sr(-tolerance_kg)
    o.append(f'<rect x="{left}" y="{band_top:.1f}" width="{pw}" '
             f'height="{band_bot - band_top:.1f}" class="band"/>')
    o.append(f'<line x1="{left}" y1="{sr(0):.1f}" x2="{left + pw}" y2="{sr(0):.1f}" '
             'class="axis"/>')
    for r in (tolerance_kg, -tolerance_kg):
        o.append(f'<text x="{left - 4}" y="{sr(r) + 4:.1f}" class="tick" '
                 f'text-anchor="end">{r:+g} kg</text>')
    for p in pts:
        if p["residual_kg"] is None:
            continue
        o.append(f'<circle cx="{sx(p["known_kg"]):.1f}" cy="{sr(p["residual_kg"]):.1f}" '
                 f'r="3.5" class="pt {p["kind"]}"><title>residual {p["residual_kg"]:+.4f} '
                 'kg</title></circle>')
    o.append(f'<text x="{left + pw / 2}" y="{r_top - 6}" class="lbl" text-anchor="middle">'
             f'residuals (kg); band = tolerance +-{tolerance_kg:g} kg</text>')
    o.append("</svg>")
    return "".join(o)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#111;max-width:60em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:.2em .6em;
text-align:right}th{background:#eee}td.l,th.l{text-align:left}
.pass{color:#070;font-weight:bold}.fail{color:#b00;font-weight:bold}
.mount{display:inline-block;vertical-align:top;margin:0 1.5em 1em 0}
svg .frame{fill:none;stroke:#999}svg .axis{stroke:#999}svg .fit{stroke:#06c;stroke-width:1.5}
svg .band{fill:#dfd}svg .pt{fill:#d60;stroke:#000;stroke-width:.5}svg .pt.tare{fill:#888}
svg .tick{font-size:10px;fill:#333}svg .lbl{font-size:11px;fill:#333}
svg .sat{font-size:11px;fill:#b00}
@media print{body{margin:0}}
"""


def _verdict_html(v: dict[str, Any]) -> str:
    if v["all_verified_within_tolerance"]:
        return (f'<p class="pass">Every mount verified within +-{v["verify_tolerance_pct"]:g} % '
                f'(worst {v["worst_error_pct"]:g} %).</p>')
    parts = []
    if v["mounts_not_verified"]:
        parts.append("not verified: " + ", ".join(_e(m) for m in v["mounts_not_verified"]))
    if v["worst_error_pct"] is not None and v["worst_error_pct"] > v["verify_tolerance_pct"]:
        parts.append(f'worst error {v["worst_error_pct"]:g} % is over '
                     f'{v["verify_tolerance_pct"]:g} %')
    return f'<p class="fail">Not fully verified: {"; ".join(parts)}.</p>'


def _rows(rows: Sequence[Sequence[str]]) -> str:
    return "".join("<tr>" + "".join(rows_cell for rows_cell in r) + "</tr>" for r in rows)


def render_html(rep: dict[str, Any]) -> str:
    c = rep["calibration"]
    tol = c["residual_tolerance_kg"]
    o = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
         f"<title>Calibration report: {_e(rep['rig']['name'])} v{c['version']}</title>",
         f"<style>{_CSS}</style></head><body>",
         f"<h1>Calibration report: {_e(rep['rig']['name'])}</h1>",
         "<table>",
         _rows([
             ['<th class="l">calibration version</th>', f"<td>{c['version']}"
              + ("" if c["in_force"] else " (superseded)") + "</td>"],
             ['<th class="l">committed</th>', f"<td>{_e(c['committed_at'])}</td>"],
             ['<th class="l">installer</th>', f"<td>{_e(c['installer'])}</td>"],
             ['<th class="l">backend</th>', f"<td>{_e(rep['rig']['backend'])}</td>"],
             ['<th class="l">report generated</th>', f"<td>{_e(rep['generated_at'])}</td>"],
         ]),
         "</table>",
         _verdict_html(rep["verdict"]),
         "<h2>Mounts</h2><table><tr><th class=\"l\">mount</th><th>bar</th><th>capacity kg</th>"
         "<th>zero (counts)</th><th>scale (counts/kg)</th><th>points</th>"
         "<th>max residual kg</th></tr>"]
    for name, m in rep["mounts"].items():
        o.append(f"<tr><td class=\"l\">{_e(name)}</td><td>{_e(m['bar'] or '-')}</td>"
                 f"<td>{_num(m['capacity_kg'], '{:g}')}</td><td>{m['offset']:,.1f}</td>"
                 f"<td>{m['scale']:,.2f}</td><td>{len(m['points'])}</td>"
                 f"<td>{_num(m['max_residual_kg'], '{:.4f}')}</td></tr>")
    o.append("</table>")
    o.append("<h2>Points and fitted lines</h2>")
    for name, m in rep["mounts"].items():
        o.append(f'<div class="mount"><b>{_e(name)}</b><br>{mount_svg(name, m, tol)}'
                 "<table><tr><th>known kg</th><th>raw counts</th><th>residual kg</th>"
                 "<th>spread kg</th><th>samples</th></tr>")
        for p in m["points"]:
            res = "saturated" if p["saturated"] else _num(p["residual_kg"], "{:+.4f}")
            label = f"{p['known_kg']:g}" + (" (tare)" if p["kind"] == "tare" else
                                             " (bar)" if p["kind"] == "bar" else "")
            o.append(f"<tr><td>{label}</td><td>{p['raw']:,.1f}</td><td>{res}</td>"
                     f"<td>{p['spread_kg']:.3f}</td><td>{p['n']}</td></tr>")
        o.append("</table></div>")
    o.append("<h2>Verification</h2>")
    if not rep["verifications"]:
        o.append("<p>No verification was recorded for this calibration.</p>")
    else:
        o.append("<table><tr><th class=\"l\">when</th><th class=\"l\">where</th>"
                 "<th>known kg</th><th>measured kg</th><th>error kg</th><th>error %</th>"
                 "<th>result</th></tr>")
        for v in rep["verifications"]:
            e = (v.get("mounts") or {}).get(v.get("mount")) if v.get("mount") else v.get("total")
            if not e:
                continue
            ok = bool(v.get("pass"))
            o.append(f"<tr><td class=\"l\">{_e(v.get('at', ''))}</td>"
                     f"<td class=\"l\">{_e(v.get('mount') or 'whole rig')}</td>"
                     f"<td>{e['known_kg']:g}</td><td>{e['measured_kg']:.3f}</td>"
                     f"<td>{e['error_kg']:+.3f}</td><td>{e['error_pct']:+.3f}</td>"
                     f"<td class=\"{'pass' if ok else 'fail'}\">{'pass' if ok else 'FAIL'}"
                     "</td></tr>")
        o.append("</table>")
    o.append("<h2>History</h2><table><tr><th>version</th><th class=\"l\">committed</th>"
             "<th class=\"l\">installer</th></tr>")
    for r in rep["history"]:
        o.append(f"<tr><td>{r['version']}</td><td class=\"l\">{_e(r['committed_at'])}</td>"
                 f"<td class=\"l\">{_e(r['installer'])}</td></tr>")
    o.append("</table><p><small>Loads in kg (kg-force). Model per mount: raw = zero + scale "
             "x kg, least squares over the tare and the known weights. Safety limits are "
             "measured from the zero of this calibration; a later re-tare does not move it."
             "</small></p></body></html>")
    return "\n".join(o)
