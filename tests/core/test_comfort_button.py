"""The comfort button on a mock pin, through a live Core on the sim rig."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rigctl.backends.sim import SimRig
from rigctl.config import InputsSection, load_config
from rigctl.core.runtime import Core
from rigctl.core.warning import State
from rigctl.inputs import attach_inputs
from rigctl.inputs.comfort import ComfortButton
from rigctl.outputs.factory import build_outputs
from rigctl.outputs.gpio import mock_pin_factory

PIN = 26


def test_bouncing_contact_gives_one_press() -> None:
    f = mock_pin_factory()
    got: list[float] = []
    b = ComfortButton(InputsSection(comfort_pin=PIN), lambda: got.append(1), f)
    pin = f.pin(PIN)
    for k in range(20):  # toggled every 1 ms for 20 ms
        (pin.drive_low if k % 2 == 0 else pin.drive_high)()
        time.sleep(0.001)
    pin.drive_low()
    time.sleep(0.05)
    assert len(got) == 1
    pin.drive_high()
    time.sleep(0.1)
    pin.drive_low()  # a second, deliberate press
    assert len(got) == 2
    b.close()


@contextmanager
def running_core() -> Iterator[tuple[Core, Any, list[object]]]:
    """A started core with the button on a mock pin: (core, pin factory, ease events seen)."""
    cfg = load_config(None)
    cfg = cfg.model_copy(update={"inputs": InputsSection(comfort_pin=PIN)})
    f = mock_pin_factory()
    sim = SimRig(cfg, start_ns=time.monotonic_ns())
    sim.hold([12.0] * 4)  # foot load 22 kg with a 70 kg therapist
    core = Core(cfg, sim, build_outputs(cfg, f))
    attach_inputs(cfg, core, f)
    presses: list[object] = []
    core.on_ease(lambda t, ev: presses.append(ev))
    core.start()
    try:
        core.loop.first_tick.wait(2)
        yield core, f, presses
    finally:
        core.stop()


def test_press_in_session_raises_ease_within_a_tick() -> None:
    with running_core() as (core, f, presses):
        core.start_session(40.0, 70.0, "s1")
        time.sleep(0.3)
        t0 = time.monotonic_ns()
        f.pin(PIN).drive_low()
        while core.controller.state is not State.EASE and time.monotonic_ns() - t0 < 1e9:
            time.sleep(0.0005)
        assert core.controller.state is State.EASE
        assert core.controller.machine.since_ns - t0 <= 2 * core.config.tick_ns
        time.sleep(0.05)
        assert core.last_commands.amber or core.last_commands.buzzer_hz  # ease row outputs
        assert not core.last_commands.red
        time.sleep(0.1)
        assert len(presses) == 1 and presses[0] is not None


def test_press_outside_a_session_changes_no_output() -> None:
    with running_core() as (core, f, presses):
        time.sleep(0.1)
        red = f.pin(core.config.outputs.red_pin)
        buzz = f.pin(core.config.outputs.buzzer_pin)
        before = (len(red.states), len(buzz.states))
        f.pin(PIN).drive_low()
        time.sleep(0.2)
        assert core.controller.state is State.IDLE
        assert (len(red.states), len(buzz.states)) == before
        assert presses == [None]  # seen and logged, nothing done
