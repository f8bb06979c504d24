"""gpiozero outputs on MockFactory pins follow the loop's commands."""

from __future__ import annotations

from rigctl.config import load_config
from rigctl.core.patterns import Commands, commands
from rigctl.core.warning import State
from rigctl.outputs.gpio import GpioOutputs, mock_pin_factory

CFG = load_config(None)
OUT = CFG.outputs


def make() -> tuple[GpioOutputs, object]:
    f = mock_pin_factory()
    return GpioOutputs(OUT, f), f


def test_pins_follow_the_over_commands() -> None:
    out, f = make()
    out.apply(commands(State.OVER, 0, 10_000_000))
    assert f.pin(OUT.green_pin).state == 1  # type: ignore[attr-defined]
    assert f.pin(OUT.red_pin).state == 1  # type: ignore[attr-defined]
    assert f.pin(OUT.amber_pin).state == 0  # type: ignore[attr-defined]
    assert f.pin(OUT.buzzer_pin).frequency == 2700  # type: ignore[attr-defined]
    assert f.pin(OUT.haptic_pin).state == 1.0  # type: ignore[attr-defined]


def test_only_changes_are_written() -> None:
    out, f = make()
    red = f.pin(OUT.red_pin)  # type: ignore[attr-defined]
    cmd = commands(State.OVER, 0, 0)
    for _ in range(50):
        out.apply(cmd)
    writes = len(red.states)
    for _ in range(50):
        out.apply(cmd)
    assert len(red.states) == writes


def test_close_turns_everything_off_green_included() -> None:
    out, f = make()
    out.apply(commands(State.OVER, 0, 0))
    out.close()
    for pin in (OUT.green_pin, OUT.amber_pin, OUT.red_pin, OUT.haptic_pin):
        assert f.pin(pin).states[-1].state in (0, False)  # type: ignore[attr-defined]


def test_a_failing_pin_is_counted_and_the_others_still_warn() -> None:
    out, f = make()

    class Broken:
        def __setattr__(self, name: str, value: object) -> None:
            raise OSError("pin gone")

        def close(self) -> None:
            pass

    out.green = Broken()
    out.apply(Commands(False, False, False, 0.0, 0.0, "none"))
    out.apply(commands(State.OVER, 0, 0))  # green write fails first
    assert out.faults == 1
    assert f.pin(OUT.red_pin).state == 1  # type: ignore[attr-defined]
