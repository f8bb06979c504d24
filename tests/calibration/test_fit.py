"""The fit and every commit refusal rule, on synthetic points (no rig, exact numbers)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rigctl.calibration.fit import (
    CalibrationRefused,
    FitLimits,
    Point,
    bar_shares,
    fit_all,
    fit_mount,
    least_squares,
    verify_error,
)
from rigctl.calibration.stability import dedupe, last_window, median3_filter

LIMITS = FitLimits(residual_tolerance_kg=0.2, scale_ratio_min=0.5, scale_ratio_max=2.0)


def pts(mount: str, offset: float, scale: float, kgs: list[float],
        noise: dict[float, float] | None = None, saturated: float | None = None) -> list[Point]:
    out = [Point(mount, 0.0, offset, 10.0, 80, kind="tare")]
    for kg in kgs:
        raw = offset + scale * kg + (noise or {}).get(kg, 0.0) * scale
        out.append(Point(mount, kg, raw, 20.0, 80, saturated=(kg == saturated)))
    return out


@given(offset=st.floats(-1e6, 1e6), scale=st.floats(1000, 100000),
       kgs=st.lists(st.floats(1, 150), min_size=2, max_size=6, unique=True))
def test_least_squares_recovers_an_exact_line(offset: float, scale: float,
                                              kgs: list[float]) -> None:
    xs = [0.0, *kgs]
    line = least_squares(xs, [offset + scale * x for x in xs])
    assert line is not None
    assert line[0] == pytest.approx(offset, abs=1e-6 * max(1.0, abs(offset)) + 1e-3)
    assert line[1] == pytest.approx(scale, rel=1e-9)


def test_least_squares_needs_two_different_loads() -> None:
    assert least_squares([5.0, 5.0], [1.0, 2.0]) is None
    assert least_squares([5.0], [1.0]) is None


def test_good_points_fit_with_residuals_reported() -> None:
    m = fit_mount("a", pts("a", 8000, 22000, [10, 20], noise={10: 0.05, 20: -0.03}), 22000,
                  LIMITS)
    assert m.ok, m.problems
    assert m.scale == pytest.approx(22000, rel=0.01)
    assert len(m.residuals_kg) == 3
    assert m.max_residual_kg is not None and 0.01 < m.max_residual_kg < 0.1
    d = m.to_dict()
    assert d["problems"] == [] and len(d["points"]) == 3


def test_refused_with_fewer_than_two_known_weights() -> None:
    m = fit_mount("bar_b_right", pts("bar_b_right", 0, 22000, [20]), 22000, LIMITS)
    assert m.problems == ("bar_b_right: 1 known weight(s) captured (20 kg); at least 2 "
                          "different weights are needed besides the tare",)
    # the same weight twice is still one weight
    twice = [*pts("x", 0, 22000, [20]), Point("x", 20.0, 440010.0, 5.0, 80)]
    assert "1 known weight(s)" in fit_mount("x", twice, 22000, LIMITS).problems[0]


def test_refused_for_a_slope_of_the_wrong_sign() -> None:
    m = fit_mount("a", pts("a", 0, -22000, [10, 20]), 22000, LIMITS)
    assert len(m.problems) == 1
    assert "slope -22000 counts/kg has the wrong sign" in m.problems[0]
    assert "S+/S-" in m.problems[0]
    # a rig wired with a negative configured scale accepts a negative slope
    assert fit_mount("a", pts("a", 0, -22000, [10, 20]), -22000, LIMITS).ok


def test_refused_for_an_implausible_slope() -> None:
    # the installer typed 100 kg for a 10 kg weight: slope a tenth of nominal
    m = fit_mount("a", pts("a", 0, 2200, [10, 20]), 22000, LIMITS)
    assert m.problems == ("a: slope 2200 counts/kg is implausible (expected 11000 to 44000 "
                          "from the configured 22000): check the weights entered, that the "
                          "weight hung on this mount, and the cell wiring",)
    assert not fit_mount("a", pts("a", 0, 50000, [10, 20]), 22000, LIMITS).ok


def test_refused_when_a_point_saturated() -> None:
    m = fit_mount("a", pts("a", 0, 22000, [10, 20, 90], saturated=90), 22000, LIMITS)
    assert m.problems[0].startswith("a: the 90 kg point saturated the amplifier")
    assert m.residuals_kg[-1] is None  # a saturated reading is not part of the line
    assert m.scale == pytest.approx(22000)


def test_refused_when_a_residual_is_over_tolerance() -> None:
    m = fit_mount("a", pts("a", 0, 22000, [10, 20, 30, 40, 50], noise={30: 0.6}), 22000,
                  LIMITS)
    assert m.problems == ("a: residual +0.49 kg at the 30 kg point is over the 0.2 kg "
                          "tolerance: was the weight swinging or touching something? capture "
                          "that point again",)


def test_fit_all_refuses_a_draft_without_tare_and_lists_every_mount() -> None:
    points = [p for p in pts("a", 0, 22000, [10, 20]) if p.kind != "tare"]
    res = fit_all(points, {"a": 22000, "b": 22000}, LIMITS)
    assert not res.ok
    assert res.all_problems[0].startswith("no tare in this calibration")
    assert any(p.startswith("b: 0 known weight(s) captured (none)") for p in res.all_problems)
    good = fit_all(pts("a", 0, 22000, [10, 20]) + pts("b", 5, 21000, [10, 30]),
                   {"a": 22000, "b": 22000}, LIMITS)
    assert good.ok and good.to_dict()["ok"] is True


def test_points_for_a_mount_the_rig_does_not_have_are_refused() -> None:
    res = fit_all(pts("a", 0, 22000, [10, 20]) + pts("zz", 0, 22000, [10, 20]),
                  {"a": 22000}, LIMITS)
    assert "points for unknown mount(s) zz: the rig has a" in res.all_problems


def test_bar_shares_follow_the_lever_rule() -> None:
    assert bar_shares(["l", "r"], 20.0) == {"l": 10.0, "r": 10.0}
    assert bar_shares(["l", "r"], 20.0, 0.25) == {"l": 15.0, "r": 5.0}
    assert bar_shares(["only"], 20.0) == {"only": 20.0}
    with pytest.raises(CalibrationRefused, match=r"position 1\.5 is outside 0\.\.1"):
        bar_shares(["l", "r"], 20.0, 1.5)
    with pytest.raises(CalibrationRefused, match="not statically determinate"):
        bar_shares(["a", "b", "c"], 20.0)


def test_verify_error_in_kg_and_percent() -> None:
    assert verify_error(20.0, 20.05) == {"known_kg": 20.0, "measured_kg": 20.05,
                                          "error_kg": 0.05, "error_pct": 0.25}
    assert verify_error(15.0, 14.85)["error_pct"] == pytest.approx(-1.0)


def test_median_of_three_removes_a_single_spike_from_the_spread() -> None:
    xs = [10.0, 10.1, 9.9, 60.0, 10.0, 10.1, 9.95]
    assert max(median3_filter(xs)) - min(median3_filter(xs)) < 0.25
    swing = [10.0, 14.0, 18.0, 14.0, 10.0, 6.0, 2.0, 6.0]
    assert max(median3_filter(swing)) - min(median3_filter(swing)) > 5


def test_last_window_waits_for_a_full_window_and_dedupes() -> None:
    ts, xs = dedupe([0, 5, 10, 15, 20], [1.0, 1.0, 2.0, None, 3.0])
    assert (ts, xs) == ([0, 10, 20], [1.0, 2.0, 3.0])
    assert last_window(ts, xs, 30) is None
    w = last_window(ts, xs, 10)
    assert w is not None and (w.n, w.mean, w.spread) == (2, 2.5, 1.0)
    assert math.isclose(last_window(ts, xs, 20).mean, 2.0)  # type: ignore[union-attr]
