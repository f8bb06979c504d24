"""Rig backends: where raw samples come from (sim rig, HX711 over GPIO, kernel IIO)."""

from __future__ import annotations

import time
from typing import Any

from rigctl.config import Config, ConfigError
from rigctl.sampling.slots import SampleSource


def build_source(cfg: Config) -> SampleSource:
    """The sample source named by ``rig.backend``."""
    backend = cfg.rig.backend
    if backend == "sim":
        from rigctl.backends.sim import SimRig

        return SimRig(cfg, start_ns=time.monotonic_ns())
    if backend == "hx711":
        from rigctl.backends.hx711 import HX711Source

        return HX711Source(cfg)
    if backend == "iio":
        from rigctl.backends.iio import IioSource

        return IioSource(cfg)
    raise ConfigError(f"rig.backend: '{backend}' is not available in this build")


def build_pin_factory(cfg: Config) -> Any:
    """gpiozero pin factory: mock pins on the sim rig, the platform default on a Pi."""
    if cfg.rig.backend == "sim":
        from rigctl.outputs.gpio import mock_pin_factory

        return mock_pin_factory()
    return None  # gpiozero picks lgpio / RPi.GPIO itself
