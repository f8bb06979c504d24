"""Fixtures for the driver tests: emulated boards and a recording slot."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rigctl.config import Config, load_config
from rigctl.emulators.hx711_gpio import (
    FakeGPIO,
    HX711Chip,
    install_fake_gpio,
    uninstall_fake_gpio,
)
from rigctl.sampling.slots import LatestSlot, Sample, SampleStatus

ROOT = Path(__file__).resolve().parents[2]
PI_CONFIG = ROOT / "config" / "rigctl.toml"

_DRV_TABLES = """
[haptics.left_grip]
bus = {bus}
mux_address = 0x70
mux_channel = 0

[haptics.right_grip]
bus = {bus}
mux_address = 0x70
mux_channel = 1
"""


def drv_tables(bus: int) -> str:
    """Config tables for a DRV2605L per grip on I2C ``bus``, behind a mux at 0x70 (ch 0, 1)."""
    return _DRV_TABLES.format(bus=bus)


class RecordingSlot(LatestSlot):
    """A LatestSlot that also keeps every sample published (to prove what was never used)."""

    __slots__ = ("history",)

    def __init__(self) -> None:
        super().__init__()
        self.history: list[Sample] = []

    def publish(self, t_ns: int, raw: int, status: SampleStatus = SampleStatus.OK) -> None:
        super().publish(t_ns, raw, status)
        assert self.sample is not None
        self.history.append(self.sample)


@pytest.fixture
def pi_cfg() -> Config:
    return load_config(PI_CONFIG)


@pytest.fixture
def board() -> Iterator[FakeGPIO]:
    yield install_fake_gpio()
    uninstall_fake_gpio()  # other tests in the session see the machine as it is


@pytest.fixture
def hx711_rig(board: FakeGPIO, pi_cfg: Config) -> Iterator[Callable[..., Any]]:
    """``make(values)`` -> (source, chips): one emulated chip per mount, recording slots."""
    from rigctl.backends.hx711 import HX711Source

    made: list[HX711Source] = []

    def make(values: list[int] | None = None,
             cfg: Config = pi_cfg) -> tuple[HX711Source, list[HX711Chip]]:
        vals = values or [1000 * (i + 1) for i in range(len(cfg.mounts))]
        chips = []
        for i, m in enumerate(cfg.mounts.values()):
            assert m.dout_pin is not None and m.sck_pin is not None
            chips.append(board.attach(HX711Chip(cfg.sampling.sps, vals[i], seed=i),
                                      m.dout_pin, m.sck_pin))
        src = HX711Source(cfg)
        for i, sampler in enumerate(src.samplers):
            rec = RecordingSlot()
            sampler.slot = rec
            src.slots[i] = rec
        made.append(src)
        return src, chips

    yield make
    for src in made:
        src.stop()


def wait_for(cond: Callable[[], bool], timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return cond()
