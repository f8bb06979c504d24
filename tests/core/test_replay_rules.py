"""Each rule of DESIGN section 6 through `rigctl replay`, with exact transition times.

Rows arrive at 80 SPS (every 12.5 ms); the median of 3 follows a step on the
second new sample, so a step at t=1.000 is first seen by the tick at 1.015.
Times are asserted to within one tick (5 ms).
"""

from __future__ import annotations

import pytest

from tests.core.traces import first_tick_seeing, make_trace, run, states, step

TICK = 0.005
SEEN = first_tick_seeing(1.0125)  # 1.015: second new sample after a step at 1.000


def at(transitions: list[dict[str, object]], state: str) -> float:
    hits = [t["t_s"] for t in transitions if t["state"] == state]
    assert hits, f"no transition to {state} in {transitions}"
    return float(hits[0])  # type: ignore[arg-type]


def test_session_starts_ok_and_steady_load_stays_ok() -> None:
    trs, summary = run(make_trace(lambda t: 20.0, 3.0))
    assert states(trs) == [("ok", 0.0)]
    assert summary["peak_foot_load_kg"] == pytest.approx(20.0, abs=0.05)
    assert summary["time_over_limit_s"] == 0.0


def test_caution_at_80_percent_of_limit() -> None:
    trs, _ = run(make_trace(step(1.0, 20.0, 33.0), 2.0))
    assert [s for s, _ in states(trs)] == ["ok", "caution"]
    assert at(trs, "caution") == pytest.approx(SEEN, abs=TICK)


def test_over_after_dwell_of_50_ms() -> None:
    trs, _ = run(make_trace(step(1.0, 20.0, 42.0), 2.0))
    assert [s for s, _ in states(trs)] == ["ok", "caution", "over"]
    assert at(trs, "caution") == pytest.approx(SEEN, abs=TICK)
    assert at(trs, "over") == pytest.approx(SEEN + 0.050, abs=TICK)


def test_over_at_once_at_120_percent() -> None:
    trs, _ = run(make_trace(step(1.0, 20.0, 49.0), 2.0))
    assert [s for s, _ in states(trs)] == ["ok", "over"]
    assert at(trs, "over") == pytest.approx(SEEN, abs=TICK)


def test_brief_touch_of_the_limit_shorter_than_dwell_does_not_raise_over() -> None:
    foot = lambda t: 42.0 if 1.0 <= t < 1.03 else 20.0  # noqa: E731 - 30 ms above
    trs, _ = run(make_trace(foot, 2.0))
    assert "over" not in [s for s, _ in states(trs)]


def test_over_clears_after_300_ms_below_limit_minus_hysteresis() -> None:
    foot = lambda t: 45.0 if 1.0 <= t < 2.0 else 20.0  # noqa: E731
    trs, summary = run(make_trace(foot, 3.0))
    assert [s for s, _ in states(trs)] == ["ok", "caution", "over", "ok"]
    # both latches clear together: 300 ms after the tick that saw the drop
    assert trs[-1]["t_s"] == pytest.approx(
        first_tick_seeing(2.0125) + 0.300, abs=TICK)
    assert summary["time_over_limit_s"] == pytest.approx(1.0, abs=0.015)
    assert summary["peak_foot_load_kg"] == pytest.approx(45.0, abs=0.05)


def test_hysteresis_holds_over_just_below_the_limit() -> None:
    # limit 40 kg: hysteresis max(5 % of 40, 1.5) = 2 kg, so 39 kg stays over
    foot = lambda t: 45.0 if 1.0 <= t < 2.0 else (39.0 if t < 3.0 else 36.0)  # noqa: E731
    trs, _ = run(make_trace(foot, 4.0))
    seq = states(trs)
    assert [s for s, _ in seq] == ["ok", "caution", "over", "caution"]
    assert seq[-1][1] == pytest.approx(first_tick_seeing(3.0125) + 0.300, abs=TICK)


def test_caution_clears_after_300_ms_below_threshold_minus_hysteresis() -> None:
    foot = lambda t: 34.0 if 1.0 <= t < 2.0 else 20.0  # noqa: E731
    trs, _ = run(make_trace(foot, 3.0))
    assert [s for s, _ in states(trs)] == ["ok", "caution", "ok"]
    assert trs[-1]["t_s"] == pytest.approx(first_tick_seeing(2.0125) + 0.300, abs=TICK)


def test_fast_rise_gives_predicted_caution_before_80_percent() -> None:
    # 20 kg -> 40 kg at 100 kg/s from t=1.0: 32 kg (0.8 x limit) is reached at 1.12
    foot = lambda t: min(40.0, 20.0 + max(0.0, t - 1.0) * 100.0) if t < 1.5 else 20.0  # noqa
    trs, _ = run(make_trace(foot, 1.5))
    caution = next(t for t in trs if t["state"] == "caution")
    assert caution["foot_load_kg"] < 32.0
    assert caution["t_s"] < 1.12 - 0.012


def test_slow_rise_is_not_predicted() -> None:
    foot = lambda t: 20.0 + max(0.0, t - 1.0) * 2.0  # noqa: E731 - 2 kg/s
    trs, _ = run(make_trace(foot, 8.0))
    caution = next(t for t in trs if t["state"] == "caution")
    assert caution["foot_load_kg"] >= 31.5


def test_single_sample_spike_never_raises_anything() -> None:
    def cell(t: float, i: int, kg: float) -> str | None:
        return f"{kg - 60:.4f}" if (i == 0 and abs(t - 1.5) < 1e-9) else None

    trs, summary = run(make_trace(lambda t: 20.0, 3.0, cell=cell))
    assert states(trs) == [("ok", 0.0)]
    assert summary["peak_foot_load_kg"] < 21.0


def test_overload_when_a_mount_reaches_80_percent_of_capacity() -> None:
    # capacity 100 kg per mount in config/sim.toml
    def cell(t: float, i: int, kg: float) -> str | None:
        wobble = 0.005 if round(t * 80) % 2 else -0.005
        return f"{82.0 + wobble:.4f}" if (i == 0 and t >= 1.0) else None

    trs, _ = run(make_trace(lambda t: 0.0, 2.0, therapist_kg=140.0, cell=cell),
                 therapist_kg=140.0)
    assert [s for s, _ in states(trs)] == ["ok", "overload"]
    assert at(trs, "overload") == pytest.approx(SEEN, abs=TICK)


def test_stale_mount_gives_fault_within_stale_after_plus_one_tick() -> None:
    def cell(t: float, i: int, kg: float) -> str | None:
        return "" if (i == 3 and 1.0 <= t < 2.0) else None

    trs, _ = run(make_trace(lambda t: 20.0, 3.0, cell=cell))
    assert [s for s, _ in states(trs)] == ["ok", "fault", "ok"]
    last_sample = 0.9875
    assert last_sample + 0.060 < at(trs, "fault") <= last_sample + 0.060 + TICK + 1e-9
    # samples back at 2.000: healthy for 300 ms before the fault clears
    assert trs[-1]["t_s"] == pytest.approx(2.0 + 0.300, abs=TICK)


def test_saturated_codes_give_fault() -> None:
    def cell(t: float, i: int, kg: float) -> str | None:
        return "sat" if (i == 1 and t >= 1.0) else None

    trs, _ = run(make_trace(lambda t: 20.0, 2.0, cell=cell))
    assert [s for s, _ in states(trs)] == ["ok", "fault"]
    assert at(trs, "fault") == pytest.approx(SEEN, abs=TICK)


def test_implausible_negative_load_gives_fault() -> None:
    def cell(t: float, i: int, kg: float) -> str | None:
        return "-3.0" if (i == 2 and t >= 1.0) else None

    trs, _ = run(make_trace(lambda t: 0.0, 2.0, cell=cell))
    assert [s for s, _ in states(trs)][-1] == "fault"
    assert at(trs, "fault") == pytest.approx(SEEN, abs=TICK)


def test_stuck_mount_gives_fault_after_one_second() -> None:
    def cell(t: float, i: int, kg: float) -> str | None:
        return "17.5000" if (i == 0 and t >= 1.0) else None

    trs, _ = run(make_trace(lambda t: 0.0, 3.0, cell=cell))
    assert [s for s, _ in states(trs)] == ["ok", "fault"]
    assert at(trs, "fault") == pytest.approx(2.0, abs=TICK)


def test_fault_outranks_over() -> None:
    def cell(t: float, i: int, kg: float) -> str | None:
        return "" if (i == 3 and t >= 1.5) else None

    trs, _ = run(make_trace(step(1.0, 20.0, 45.0), 2.5, cell=cell))
    assert [s for s, _ in states(trs)] == ["ok", "caution", "over", "fault"]
