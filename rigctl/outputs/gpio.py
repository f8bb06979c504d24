"""LEDs, buzzer and a plain PWM vibration motor through gpiozero.

Devices are built on a pin factory passed in (gpiozero's own split of devices
and pin factories): the real one on a Pi, ``MockFactory`` on the sim backend and
in tests. Each tick only changed values are written, and no gpiozero blink or
beep thread is used: timing comes from the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from rigctl.config import OutputsSection
from rigctl.core.patterns import ALL_OFF, Commands
from rigctl.outputs.base import OutputSink

log = logging.getLogger(__name__)


def mock_pin_factory() -> Any:
    """A gpiozero MockFactory whose pins can do PWM (for TonalBuzzer and the motor)."""
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    return MockFactory(pin_class=MockPWMPin)


class GpioOutputs(OutputSink):
    def __init__(self, cfg: OutputsSection, pin_factory: Any) -> None:
        from gpiozero import LED, Buzzer, PWMOutputDevice, TonalBuzzer
        from gpiozero.tones import Tone

        self.pin_factory = pin_factory
        self._last: Commands | None = None
        self.faults = 0

        def led(pin: int | None) -> Any:
            return None if pin is None else LED(pin, pin_factory=pin_factory)

        self.green = led(cfg.green_pin)
        self.amber = led(cfg.amber_pin)
        self.red = led(cfg.red_pin)
        self.tonal = cfg.buzzer_kind == "tonal"
        self.buzzer: Any = None
        if cfg.buzzer_pin is not None:
            self.buzzer = (TonalBuzzer(cfg.buzzer_pin, pin_factory=pin_factory,
                                       mid_tone=Tone.from_frequency(2000), octaves=2)
                           if self.tonal else Buzzer(cfg.buzzer_pin, pin_factory=pin_factory))
        self.motor: Any = None
        if cfg.haptic == "pwm" and cfg.haptic_pin is not None:
            self.motor = PWMOutputDevice(cfg.haptic_pin, pin_factory=pin_factory,
                                         frequency=200)
        self.apply(ALL_OFF)

    def apply(self, cmd: Commands) -> None:
        last = self._last
        self._last = cmd
        if last is None or cmd.green != last.green:
            self._write(self._set, self.green, cmd.green)
        if last is None or cmd.amber != last.amber:
            self._write(self._set, self.amber, cmd.amber)
        if last is None or cmd.red != last.red:
            self._write(self._set, self.red, cmd.red)
        if self.buzzer is not None and (last is None or cmd.buzzer_hz != last.buzzer_hz):
            self._write(self._buzz, cmd.buzzer_hz)
        if self.motor is not None and (last is None or cmd.haptic != last.haptic):
            self._write(self._vibrate, cmd.haptic)

    def _write(self, fn: Any, *args: Any) -> None:
        """One output write; a broken part is counted and never silences the others."""
        try:
            fn(*args)
        except Exception:
            self.faults += 1
            if self.faults == 1:
                log.exception("GPIO output write failed")

    def _vibrate(self, level: float) -> None:
        self.motor.value = min(max(level, 0.0), 1.0)

    @staticmethod
    def _set(dev: Any, on: bool) -> None:
        if dev is not None:
            dev.value = 1 if on else 0

    def _buzz(self, hz: float) -> None:
        if not self.tonal:
            self.buzzer.value = 1 if hz > 0 else 0
        elif hz > 0:
            lo, hi = self.buzzer.min_tone.frequency, self.buzzer.max_tone.frequency
            self.buzzer.play(min(max(hz, lo), hi))
        else:
            self.buzzer.stop()

    def close(self) -> None:
        self.apply(ALL_OFF)
        for dev in (self.green, self.amber, self.red, self.buzzer, self.motor):
            if dev is not None:
                dev.close()

    def status(self) -> dict[str, object]:
        return {"faults": self.faults, "kind": "gpio"}


class CompositeOutputs(OutputSink):
    """Several sinks driven together; one failing never silences the others."""

    def __init__(self, sinks: Sequence[OutputSink]) -> None:
        self.sinks = list(sinks)
        self.faults = 0

    def apply(self, cmd: Commands) -> None:
        for s in self.sinks:
            try:
                s.apply(cmd)
            except Exception:
                s.faults += 1
        self.faults = sum(s.faults for s in self.sinks)

    def close(self) -> None:
        for s in self.sinks:
            try:
                s.close()
            except Exception:
                log.exception("closing an output failed")

    def status(self) -> dict[str, object]:
        return {"faults": self.faults, "sinks": [s.status() for s in self.sinks]}
