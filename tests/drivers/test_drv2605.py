"""The DRV2605L sink against an emulated register map on a fake SMBus."""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rigctl.config import HapticDeviceSection
from rigctl.core.patterns import Commands, commands
from rigctl.core.warning import State
from rigctl.emulators.drv2605_smbus import FakeDrv2605, FakeI2C
from rigctl.outputs.drv2605 import BusHandle, Drv2605Sink, build_haptics
from tests.drivers.conftest import wait_for

ADDR = 0x5A
MODE, RTP, LIB, SEQ1, SEQ2, GO, FEEDBACK, CONTROL3 = 0x01, 0x02, 0x03, 0x04, 0x05, 0x0C, 0x1A, 0x1D
#: after power-up: out of standby, ERM, open loop + signed RTP, library 1, RTP 0, stopped
SETUP_ERM = [(MODE, 0x00), (FEEDBACK, 0x36), (CONTROL3, 0xA0), (LIB, 1), (RTP, 0), (GO, 0)]
TICK_MS = 5


@pytest.fixture
def i2c(tmp_path: Path) -> FakeI2C:
    fake = FakeI2C()
    fake.bus(1).attach(ADDR, FakeDrv2605())
    (tmp_path / "i2c-1").touch()
    return fake


@pytest.fixture
def sinks() -> Iterator[list[Drv2605Sink]]:
    made: list[Drv2605Sink] = []
    yield made
    for s in made:
        s.close()


def make_sink(i2c: FakeI2C, sinks: list[Drv2605Sink], cfg: HapticDeviceSection | None = None,
              bus: int = 1) -> Drv2605Sink:
    h = cfg or HapticDeviceSection(bus=bus)
    import threading

    sink = Drv2605Sink("left_grip", BusHandle(bus, i2c.open(bus), threading.Lock()), h,
                       health_every_s=60)
    sinks.append(sink)
    assert sink.flush(2.0)
    return sink


def play(sink: Drv2605Sink, state: State, ms: int) -> None:
    """The loop's commands for ``state`` from its entry, one tick at a time."""
    for t in range(0, ms, TICK_MS):
        sink.apply(commands(state, 0, t * 1_000_000))
        assert sink.flush(2.0)


def new_writes(i2c: FakeI2C, start: int) -> list[tuple[int, int]]:
    return i2c.bus(1).writes_to(ADDR)[start:]


def test_setup_checks_the_chip_leaves_standby_and_selects_erm_and_library(
        i2c: FakeI2C, sinks: list[Drv2605Sink]) -> None:
    sink = make_sink(i2c, sinks)
    chip = i2c.bus(1).devices[ADDR]
    assert i2c.bus(1).log[0] == ("r", ADDR, 0x00, 0xE0)  # STATUS first: chip id 7
    assert i2c.bus(1).writes_to(ADDR) == SETUP_ERM
    assert not chip.standby and chip.actuator == "erm"
    assert sink.status()["chip"] == "DRV2605L" and sink.status()["ok"] is True


@pytest.mark.parametrize(("state", "ms", "expected", "effects", "rtp"), [
    # caution: one strong click on entry, nothing more
    (State.CAUTION, 1600, [(SEQ1, 1), (SEQ2, 0), (GO, 1)], [(1,)], []),
    # over: real-time playback at full scale, held
    (State.OVER, 1600, [(RTP, 0x7F), (MODE, 0x05)], [], [127]),
    # ease: a click on each of the two pulses per second
    (State.EASE, 2000, [(SEQ1, 1), (SEQ2, 0)] + [(GO, 1)] * 4, [(1,)] * 4, []),
    # overload: strong buzz twice a second
    (State.OVERLOAD, 2000, [(SEQ1, 14), (SEQ2, 0)] + [(GO, 1)] * 4, [(14,)] * 4, []),
    # fault: three buzzes every 1.5 s (0, 200, 400 ms, again from 1500 ms)
    (State.FAULT, 2000, [(SEQ1, 47), (SEQ2, 0)] + [(GO, 1)] * 6, [(47,)] * 6, []),
])
def test_each_warning_state_sends_its_register_sequence(
        i2c: FakeI2C, sinks: list[Drv2605Sink], state: State, ms: int,
        expected: list[tuple[int, int]], effects: list[tuple[int, ...]], rtp: list[int]) -> None:
    sink = make_sink(i2c, sinks)
    chip = i2c.bus(1).devices[ADDR]
    start = len(i2c.bus(1).writes_to(ADDR))
    play(sink, state, ms)
    assert new_writes(i2c, start) == expected
    assert [e for _, lib, e in chip.played] == effects
    assert all(lib == 1 for _, lib, _ in chip.played)
    assert [level for _, level in chip.rtp] == rtp
    assert chip.ignored_go == 0


def test_stop_ends_rtp_and_rom_playback(i2c: FakeI2C, sinks: list[Drv2605Sink]) -> None:
    sink = make_sink(i2c, sinks)
    chip = i2c.bus(1).devices[ADDR]
    play(sink, State.OVER, 100)
    start = len(i2c.bus(1).writes_to(ADDR))
    play(sink, State.OK, 100)
    assert new_writes(i2c, start) == [(RTP, 0), (MODE, 0x00)]
    assert chip.rtp_level == 0
    play(sink, State.FAULT, 100)
    start = len(i2c.bus(1).writes_to(ADDR))
    play(sink, State.OK, 100)
    assert new_writes(i2c, start) == [(GO, 0)]


def test_close_puts_the_chip_in_standby(i2c: FakeI2C, sinks: list[Drv2605Sink]) -> None:
    sink = make_sink(i2c, sinks)
    play(sink, State.OVER, 50)
    sinks.remove(sink)
    sink.close()
    chip = i2c.bus(1).devices[ADDR]
    assert chip.standby and chip.rtp_level == 0


def test_lra_selects_the_lra_library_and_closed_loop(
        i2c: FakeI2C, sinks: list[Drv2605Sink]) -> None:
    make_sink(i2c, sinks, HapticDeviceSection(bus=1, actuator="lra"))
    chip = i2c.bus(1).devices[ADDR]
    assert chip.actuator == "lra"
    assert chip.regs[LIB] == 6
    assert not chip.regs[CONTROL3] & 0x20  # not ERM open loop


def test_two_grips_behind_a_tca9548a_each_get_their_own_commands(
        tmp_path: Path, sinks: list[Drv2605Sink]) -> None:
    fake = FakeI2C()
    mux = fake.bus(1).add_mux(0x70)
    left = mux.attach(0, ADDR, FakeDrv2605())
    right = mux.attach(1, ADDR, FakeDrv2605())
    (tmp_path / "i2c-1").touch()
    cfgs = {"left_grip": HapticDeviceSection(bus=1, mux_address=0x70, mux_channel=0),
            "right_grip": HapticDeviceSection(bus=1, mux_address=0x70, mux_channel=1)}
    built = build_haptics(cfgs, fake.open, tmp_path)
    sinks.extend(built)
    for s in built:
        assert s.flush(2.0)
    built[0].apply(commands(State.CAUTION, 0, 0))
    built[1].apply(commands(State.OVER, 0, 0))
    for s in built:
        assert s.flush(2.0)
    assert [e for _, _, e in left.played] == [(1,)] and left.rtp_level == 0
    assert right.played == [] and right.rtp_level == 127
    assert not left.standby and not right.standby
    assert fake.bus(1).opened == 1  # one open bus shared by both grips
    # the mux is switched before each group of transfers: never a write to the wrong grip
    assert fake.bus(1).log[0][0] == "mux"


def test_a_drv2604_without_rom_library_is_a_fault_not_a_crash(
        tmp_path: Path, sinks: list[Drv2605Sink]) -> None:
    fake = FakeI2C()
    fake.bus(1).attach(ADDR, FakeDrv2605(device_id=4))
    sink = make_sink(fake, sinks)
    assert sink.faults >= 1 and sink.status()["ok"] is False
    assert "chip id 4 (DRV2604)" in str(sink.status()["last_error"])
    assert fake.bus(1).writes_to(ADDR) == []  # nothing written to a chip we do not know


def test_an_i2c_error_is_counted_and_the_chip_is_set_up_again_when_it_answers(
        i2c: FakeI2C, sinks: list[Drv2605Sink]) -> None:
    sink = make_sink(i2c, sinks)
    i2c.bus(1).fail_errno = errno.EREMOTEIO
    t0 = time.monotonic()
    sink.apply(commands(State.OVER, 0, 0))  # never raises, never blocks the loop
    assert time.monotonic() - t0 < 0.01
    assert sink.flush(2.0)
    assert sink.faults >= 1 and sink.status()["ok"] is False
    assert "Remote I/O error" in str(sink.status()["last_error"])
    i2c.bus(1).fail_errno = None
    chip = i2c.bus(1).devices[ADDR]
    chip._power_on()  # the chip lost power meanwhile: back in standby
    assert wait_for(lambda: chip.rtp_level == 127, timeout=3.0)  # re-set up, over is felt
    assert sink.status()["ok"] is True


def test_unknown_patterns_follow_the_haptic_level_in_rtp(
        i2c: FakeI2C, sinks: list[Drv2605Sink]) -> None:
    sink = make_sink(i2c, sinks)
    chip = i2c.bus(1).devices[ADDR]
    for level in (0.5, 0.0, 1.0):
        sink.apply(Commands(True, False, False, 0.0, level, "future_pattern"))
        assert sink.flush(2.0)
    assert [lvl for _, lvl in chip.rtp] == [64, 0, 127]


class _FlakyBus:
    """An smbus2-like bus whose next write raises something that is not an OSError."""

    def __init__(self, bus: object) -> None:
        self.bus = bus
        self.raise_next = False

    def __getattr__(self, name: str) -> object:
        return getattr(self.bus, name)

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        if self.raise_next:
            self.raise_next = False
            raise ValueError("driver bug")
        self.bus.write_byte_data(i2c_addr, register, value)  # type: ignore[attr-defined]


def test_an_unexpected_error_is_a_fault_and_the_motor_still_stops(
        i2c: FakeI2C, sinks: list[Drv2605Sink]) -> None:
    """A worker that died on it would leave the motor in full RTP, status ok, for good."""
    import threading

    flaky = _FlakyBus(i2c.open(1))
    sink = Drv2605Sink("left_grip", BusHandle(1, flaky, threading.Lock()),  # type: ignore[arg-type]
                       HapticDeviceSection(bus=1), health_every_s=60)
    sinks.append(sink)
    assert sink.flush(2.0)
    chip = i2c.bus(1).devices[ADDR]
    play(sink, State.OVER, 50)
    assert chip.rtp_level == 127
    flaky.raise_next = True
    sink.apply(commands(State.OK, 0, 0))
    assert wait_for(lambda: chip.rtp_level == 0, timeout=3.0)
    assert sink.faults == 1  # counted; the chip was set up again and answers
    assert sink.status()["ok"] is True
