"""Builds the output sinks the config asks for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rigctl.config import Config
from rigctl.outputs.base import OutputSink
from rigctl.outputs.gpio import CompositeOutputs, GpioOutputs


def build_outputs(cfg: Config, pin_factory: Any, i2c_opener: Any = None,
                  dev_dir: Path = Path("/dev")) -> OutputSink:
    """LEDs/buzzer (and PWM motor) first, then one DRV2605L sink per grip.

    ``i2c_opener(bus_number)`` stands in for ``smbus2.SMBus`` (tests, --emulate);
    ``dev_dir`` is where ``i2c-N`` nodes are checked at start.
    """
    sinks: list[OutputSink] = [GpioOutputs(cfg.outputs, pin_factory)]
    if cfg.outputs.haptic == "drv2605":
        from rigctl.outputs.drv2605 import build_haptics

        sinks.extend(build_haptics(cfg.haptics, i2c_opener, dev_dir))
    return CompositeOutputs(sinks)
