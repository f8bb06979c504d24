"""A live Core on the sim rig with a DRV2605L whose I2C bus breaks mid-session."""

from __future__ import annotations

import errno
import time
from pathlib import Path

from rigctl.backends.sim import SimRig
from rigctl.config import HapticDeviceSection, OutputsSection, load_config
from rigctl.core.runtime import Core
from rigctl.core.warning import State
from rigctl.emulators.drv2605_smbus import FakeDrv2605, FakeI2C
from rigctl.outputs.factory import build_outputs
from rigctl.outputs.gpio import mock_pin_factory
from tests.drivers.conftest import wait_for


def test_an_i2c_error_during_a_session_leaves_leds_and_buzzer_warning(tmp_path: Path) -> None:
    base = load_config(None)
    outputs = OutputsSection(**{**base.outputs.model_dump(), "haptic": "drv2605",
                                "buzzer_kind": "active"})
    cfg = base.model_validate({**base.model_dump(), "outputs": outputs.model_dump(),
                               "haptics": {"left_grip": HapticDeviceSection(bus=1).model_dump()}})
    i2c = FakeI2C()
    chip = i2c.bus(1).attach(0x5A, FakeDrv2605())
    (tmp_path / "i2c-1").touch()
    pins = mock_pin_factory()
    sim = SimRig(cfg, start_ns=time.monotonic_ns())
    sim.hold([12.0] * 4)  # foot load 22 kg with a 70 kg therapist: ok
    core = Core(cfg, sim, build_outputs(cfg, pins, i2c.open, tmp_path))
    red, buzzer = pins.pin(cfg.outputs.red_pin), pins.pin(cfg.outputs.buzzer_pin)
    core.start()
    try:
        assert core.loop.first_tick.wait(2)
        core.start_session(40.0, 70.0, "s1")
        assert wait_for(lambda: core.controller.state is State.OK)
        i2c.bus(1).fail_errno = errno.EIO  # the grip's cable is pulled
        sim.hold([2.0] * 4)  # foot load 62 kg: far over the 40 kg limit
        assert wait_for(lambda: core.controller.state is State.OVER)
        assert wait_for(lambda: red.state == 1 and buzzer.state == 1)
        assert wait_for(lambda: core.outputs.faults >= 1)  # the haptic fault shows in status
        assert core.status()["outputs"]["faults"] >= 1
        ticks = core.loop.ticks
        time.sleep(0.1)
        assert core.loop.ticks > ticks and core.loop.tick_errors == 0  # the loop kept going
        assert chip.rtp_level == 0  # nothing reached the motor
        i2c.bus(1).fail_errno = None  # cable back in: the grip buzzes again
        assert wait_for(lambda: chip.rtp_level == 127, timeout=3.0)
        assert red.state == 1 and buzzer.state == 1
    finally:
        core.stop()
