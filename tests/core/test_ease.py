"""The comfort button in the controller: ease at once, held by the 20 % / 3 s rule."""

from __future__ import annotations

import pytest

from rigctl.core.patterns import commands
from rigctl.core.warning import State
from tests.core.test_warning_properties import TICK_NS, Rig

S = 1_000_000_000


def test_press_in_session_gives_ease_at_once_with_its_own_outputs() -> None:
    rig = Rig()
    rig.warm(25.0)
    t0 = rig.t
    rig.run(2.5, lambda t: 25.0 if t < t0 + S else 30.0)
    ev = rig.ctl.press_ease(rig.t)
    assert ev is not None and rig.ctl.state is State.EASE
    assert ev.foot_kg == pytest.approx(30.0, abs=0.05)
    assert ev.peak_before_kg == pytest.approx(30.0, abs=0.05)
    cmd = commands(State.EASE, rig.ctl.machine.since_ns, rig.t)
    assert cmd.green and cmd.amber and not cmd.red and cmd.buzzer_hz > 0
    assert rig.ctl.transitions[-1].state is State.EASE


def pressed() -> tuple[Rig, int]:
    """A session holding 30 kg on the client, pressed 0.2 s in: the rig and the press time."""
    rig = Rig()
    rig.warm(30.0)
    rig.run(0.2, lambda t: 30.0)
    t_press = rig.t
    rig.ctl.press_ease(t_press)
    return rig, t_press


def test_ease_holds_3_s_even_when_load_drops_at_once() -> None:
    rig, t_press = pressed()
    rig.run(4.0, lambda t: 10.0)  # dropped well over 20 % at once
    ends = [t for t, s in rig.states if s is not State.EASE and t > t_press]
    assert ends and ends[0] - t_press == pytest.approx(3 * S, abs=TICK_NS)


def test_ease_holds_until_load_drops_by_20_percent_after_3_s() -> None:
    rig, t_press = pressed()
    rig.run(5.0, lambda t: 30.0 if t < t_press + 4 * S else 23.0)  # 23 <= 0.8 x 30 = 24
    ends = [t for t, s in rig.states if s is not State.EASE and t > t_press]
    assert ends and 4 * S < ends[0] - t_press < 4 * S + 40_000_000


def test_over_outranks_ease() -> None:
    rig, _ = pressed()
    rig.run(0.5, lambda t: 49.0)
    assert rig.ctl.state is State.OVER


def test_press_outside_a_session_changes_nothing() -> None:
    rig = Rig()
    rig.run(0.5, lambda t: 30.0)
    assert rig.ctl.press_ease(rig.t) is None
    rig.run(0.5, lambda t: 30.0)
    assert {s for _, s in rig.states} == {State.IDLE}


def test_ease_events_are_in_the_summary() -> None:
    rig, _ = pressed()
    rig.run(1.0, lambda t: 30.0)
    summary = rig.ctl.stop_session(rig.t)
    assert summary is not None
    (ev,) = summary["ease_events"]
    assert ev["foot_load_kg"] == pytest.approx(30.0, abs=0.05)
    assert summary["counts"]["ease"] == 1
