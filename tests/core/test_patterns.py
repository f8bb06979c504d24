"""Output timing per state, exact to the millisecond because the loop drives it."""

from __future__ import annotations

import pytest

from rigctl.core.patterns import commands
from rigctl.core.warning import State

MS = 1_000_000
T0 = 10_000 * MS  # state entered at an arbitrary instant


def at(state: State, ms: float):  # type: ignore[no-untyped-def]
    return commands(state, T0, T0 + int(ms * MS))


def test_ok_is_steady_green_and_nothing_else() -> None:
    for ms in (0, 3, 250, 1e6):
        c = at(State.OK, ms)
        assert (c.green, c.amber, c.red, c.buzzer_hz, c.haptic) == (True, False, False, 0, 0)


def test_idle_blinks_green_slowly_and_is_otherwise_dark() -> None:
    assert at(State.IDLE, 100).green and not at(State.IDLE, 600).green
    assert at(State.IDLE, 2100).green  # 2 s period
    for ms in range(0, 4000, 50):
        c = at(State.IDLE, ms)
        assert not (c.amber or c.red or c.buzzer_hz or c.haptic)


def test_caution_gives_one_short_pulse_on_entry() -> None:
    assert at(State.CAUTION, 0).haptic > 0 and at(State.CAUTION, 149).haptic > 0
    assert at(State.CAUTION, 150).haptic == 0 and at(State.CAUTION, 1150).haptic == 0
    c = at(State.CAUTION, 500)
    assert (c.green, c.amber, c.red, c.buzzer_hz) == (True, True, False, 0)


def test_over_is_red_continuous_buzzer_and_strong_haptic() -> None:
    for ms in (0, 1, 777, 60_000):
        c = at(State.OVER, ms)
        assert (c.green, c.amber, c.red) == (True, False, True)
        assert c.buzzer_hz > 0 and c.haptic == 1.0


@pytest.mark.parametrize("ms,amber,red", [(0, True, False), (124, True, False),
                                          (125, False, True), (249, False, True),
                                          (250, True, False)])
def test_fault_alternates_amber_and_red_at_4_hz(ms: int, amber: bool, red: bool) -> None:
    c = at(State.FAULT, ms)
    assert (c.amber, c.red, c.green) == (amber, red, False)


def test_fault_beeps_three_times_a_second() -> None:
    onsets = [ms for ms in range(1, 1000)
              if at(State.FAULT, ms).buzzer_hz and not at(State.FAULT, ms - 1).buzzer_hz]
    assert len([0, *onsets]) == 3


def test_overload_blinks_amber_and_red_together_with_fast_beeps() -> None:
    assert at(State.OVERLOAD, 10).amber and at(State.OVERLOAD, 10).red
    assert not at(State.OVERLOAD, 130).amber and not at(State.OVERLOAD, 130).red
    assert not at(State.OVERLOAD, 10).green
    beeps = sum(1 for ms in range(1, 1000)
                if at(State.OVERLOAD, ms).buzzer_hz and not at(State.OVERLOAD, ms - 1).buzzer_hz)
    assert beeps + 1 == 8


def test_ease_cannot_be_confused_with_over() -> None:
    tones = {at(State.EASE, ms).buzzer_hz for ms in range(0, 500)}
    assert len(tones - {0.0}) == 2  # two-tone chirp
    assert not any(at(State.EASE, ms).red for ms in range(0, 1000, 10))
    assert at(State.EASE, 0).haptic_pattern != at(State.OVER, 0).haptic_pattern
