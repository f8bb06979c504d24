"""The learned comfort limit (pure rule) and the trace's ease_press column."""

from __future__ import annotations

import csv
import io

import pytest

from rigctl.comfort.learn import Press, suggest_limit
from rigctl.comfort.trace import mark_presses

LO, HI = 5.0, 120.0


def presses(*sessions: tuple[str, list[float]]) -> list[Press]:
    """Newest session first, as the database gives them."""
    out = []
    for k, (sid, loads) in enumerate(sessions):
        for i, kg in enumerate(loads):
            out.append(Press(sid, f"2026-11-{20 - k:02d}T10:00:00", 40.0, 60.0 * (i + 1), kg,
                             kg + 2.0))
    return out


def test_three_presses_in_two_sessions_give_the_median_less_the_margin() -> None:
    got = suggest_limit(presses(("s2", [32.0]), ("s1", [30.0, 34.0])), 40.0, LO, HI)
    # median 32, margin max(5 % = 1.6, 1.5) = 1.6 -> 30.4, rounded down to 30.0
    assert got["suggested_limit_kg"] == 30.0
    s = got["suggestion"]
    assert (s["presses"], s["sessions"], s["median_foot_load_kg"], s["margin_kg"]) == (
        3, 2, 32.0, 1.6)
    assert [e["session_id"] for e in s["evidence"]] == ["s2", "s1"]
    assert [p["foot_load_kg"] for p in s["evidence"][1]["presses"]] == [30.0, 34.0]
    assert "PATCH" in s["reason"]


def test_small_medians_use_the_1_5_kg_margin() -> None:
    got = suggest_limit(presses(("s2", [20.0]), ("s1", [20.0, 20.0])), 40.0, LO, HI)
    assert got["suggested_limit_kg"] == 18.5  # 20 - max(1.0, 1.5)


@pytest.mark.parametrize("sessions", [
    (("s1", [30.0, 31.0, 32.0]),),  # three presses, one session
    (("s2", [30.0]), ("s1", [31.0])),  # two presses, two sessions
])
def test_too_little_evidence_gives_no_suggestion_and_says_why(
        sessions: tuple[tuple[str, list[float]], ...]) -> None:
    got = suggest_limit(presses(*sessions), 40.0, LO, HI)
    assert got["suggested_limit_kg"] is None
    assert "at least 3 presses in at least 2 sessions" in got["suggestion"]["reason"]
    assert got["suggestion"]["evidence"]  # what there is, is still shown


def test_presses_with_nobody_on_the_back_are_set_aside() -> None:
    got = suggest_limit(presses(("s2", [1.0, 30.0]), ("s1", [30.0, 2.0])), 40.0, LO, HI)
    s = got["suggestion"]
    assert got["suggested_limit_kg"] is None and (s["presses"], s["set_aside"]) == (2, 2)
    assert "set aside" in s["reason"]
    flags = [p["counted"] for e in s["evidence"] for p in e["presses"]]
    assert flags == [False, True, True, False]


def test_a_suggestion_is_never_above_or_at_the_current_limit() -> None:
    got = suggest_limit(presses(("s2", [45.0]), ("s1", [44.0, 46.0])), 40.0, LO, HI)
    assert got["suggested_limit_kg"] is None
    assert got["suggestion"]["computed_limit_kg"] == 42.5
    assert "not below the current limit" in got["suggestion"]["reason"]


def test_the_suggestion_stays_within_the_rigs_allowed_limits() -> None:
    got = suggest_limit(presses(("s2", [6.0]), ("s1", [6.0, 6.0])), 40.0, LO, HI)
    assert got["suggested_limit_kg"] == LO  # 6 - 1.5 = 4.5, below the rig's 5 kg


def test_only_the_newest_ten_sessions_with_presses_count() -> None:
    new = [(f"new{i}", [25.0]) for i in range(10)]
    old = [(f"old{i}", [60.0, 60.0]) for i in range(5)]
    got = suggest_limit(presses(*new, *old), 70.0, LO, HI)
    s = got["suggestion"]
    assert (s["presses"], s["sessions"]) == (10, 10)
    assert got["suggested_limit_kg"] == 23.5  # 25 - 1.5: the old sessions no longer count


TRACE = ["t_s,state,foot_load_kg,bar_load_kg,m1\n", "0.000,ok,20.000,50.000,50.000\n",
         "0.020,ok,20.000,50.000,50.000\n", "0.040,ease,20.000,50.000,50.000\n"]


def test_the_trace_marks_each_press_on_its_nearest_row_with_the_exact_time() -> None:
    out = mark_presses(TRACE, [0.027, 0.039, 5.0])
    rows = list(csv.DictReader(io.StringIO("".join(out))))
    assert list(rows[0]) == ["t_s", "state", "foot_load_kg", "bar_load_kg", "m1", "ease_press"]
    assert [r["ease_press"] for r in rows] == ["", "0.027", "0.039;5.000"]
    assert mark_presses(TRACE[:1], [1.0]) == ["t_s,state,foot_load_kg,bar_load_kg,m1,ease_press\n"]
