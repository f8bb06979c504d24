"""DRV2605L register maps (and a TCA9548A multiplexer) behind a fake ``smbus2.SMBus``.

The bus answers like the kernel's i2c-dev: an address nobody acknowledges
raises ``OSError(EREMOTEIO)`` ("Remote I/O error", what a Pi's i2c-bcm2835
gives on a NACK); ``fail_errno`` makes every transfer fail (a bus fault).
Devices on a mux channel answer only while the mux has that channel enabled.

The DRV2605L model keeps the registers a driver writes, reads STATUS with its
DEVICE_ID (7 = DRV2605L) in bits 7:5, starts in standby (MODE 0x40), resets on
DEV_RESET, and records what the actuator does: ROM effects fired by GO (only
when out of standby, in internal-trigger mode, with a non-empty sequence) and
RTP levels while in RTP mode. Every transfer is logged in ``bus.log``.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from typing import Literal

REG_STATUS = 0x00
REG_MODE = 0x01
REG_RTP_INPUT = 0x02
REG_LIBRARY = 0x03
REG_WAVESEQ1 = 0x04
REG_GO = 0x0C
REG_FEEDBACK = 0x1A
REG_CONTROL3 = 0x1D

LogEntry = tuple[str, int, int, int]  # (op, address, register or -1, value)


class FakeDrv2605:
    def __init__(self, device_id: int = 7) -> None:
        self.device_id = device_id
        self.regs = [0] * 0x23
        self._power_on()
        #: (t_ns, library, effect ids) per GO that really started a sequence
        self.played: list[tuple[int, int, tuple[int, ...]]] = []
        #: (t_ns, signed level) while in RTP mode, per change
        self.rtp: list[tuple[int, int]] = []
        self.ignored_go = 0  # GO written while in standby or another mode
        self.over_temp = False

    def _power_on(self) -> None:
        self.regs = [0] * 0x23
        self.regs[REG_MODE] = 0x40  # standby after power-up / reset
        self.regs[REG_LIBRARY] = 0x01
        self.regs[REG_WAVESEQ1] = 0x01
        self.regs[REG_FEEDBACK] = 0x36
        self.regs[REG_CONTROL3] = 0xA0

    @property
    def standby(self) -> bool:
        return bool(self.regs[REG_MODE] & 0x40)

    @property
    def mode(self) -> int:
        return self.regs[REG_MODE] & 0x07

    @property
    def actuator(self) -> Literal["erm", "lra"]:
        return "lra" if self.regs[REG_FEEDBACK] & 0x80 else "erm"

    @property
    def rtp_level(self) -> int:
        """What the motor is driven with now in RTP mode (0 when not in RTP)."""
        if self.standby or self.mode != 5:
            return 0
        v = self.regs[REG_RTP_INPUT]
        return v - 256 if v & 0x80 and not self.regs[REG_CONTROL3] & 0x08 else v

    def read(self, reg: int) -> int:
        if reg >= len(self.regs):
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        if reg == REG_STATUS:
            return (self.device_id << 5) | (0x02 if self.over_temp else 0)
        if reg == REG_GO:
            return 0  # sequences in the model finish at once
        return self.regs[reg]

    def write(self, reg: int, value: int) -> None:
        if reg >= len(self.regs) or reg == REG_STATUS:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        now = time.monotonic_ns()
        if reg == REG_MODE and value & 0x80:
            self._power_on()
            return
        before = self.rtp_level
        self.regs[reg] = value & 0xFF
        if reg == REG_GO and value & 0x01:
            if self.standby or self.mode != 0:
                self.ignored_go += 1
            else:
                seq = []
                for r in range(REG_WAVESEQ1, REG_WAVESEQ1 + 8):
                    eff = self.regs[r] & 0x7F
                    if eff == 0:
                        break
                    seq.append(eff)
                if seq:
                    self.played.append((now, self.regs[REG_LIBRARY] & 0x07, tuple(seq)))
        after = self.rtp_level
        if after != before:
            self.rtp.append((now, after))


class FakeTca9548a:
    """8-channel I2C switch: one control byte, bit n enables channel n."""

    def __init__(self) -> None:
        self.control = 0
        self.channels: dict[int, dict[int, FakeDrv2605]] = {}
        self.selects = 0

    def attach(self, channel: int, address: int, device: FakeDrv2605) -> FakeDrv2605:
        self.channels.setdefault(channel, {})[address] = device
        return device


class FakeI2CBus:
    """One /dev/i2c-N: devices by address, muxes by address."""

    def __init__(self) -> None:
        self.devices: dict[int, FakeDrv2605] = {}
        self.muxes: dict[int, FakeTca9548a] = {}
        self.log: list[LogEntry] = []
        self.fail_errno: int | None = None
        self.lock = threading.Lock()
        self.opened = 0
        self.closed = 0

    def attach(self, address: int, device: FakeDrv2605) -> FakeDrv2605:
        self.devices[address] = device
        return device

    def add_mux(self, address: int = 0x70) -> FakeTca9548a:
        mux = FakeTca9548a()
        self.muxes[address] = mux
        return mux

    def _target(self, address: int) -> FakeDrv2605:
        if self.fail_errno is not None:
            raise OSError(self.fail_errno, os.strerror(self.fail_errno))
        found = [self.devices[address]] if address in self.devices else []
        for mux in self.muxes.values():
            for ch, devs in mux.channels.items():
                if mux.control & (1 << ch) and address in devs:
                    found.append(devs[address])
        if len(found) != 1:
            # nobody, or two chips at one address (both enabled): no clean ACK
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        return found[0]

    def writes_to(self, address: int) -> list[tuple[int, int]]:
        """(register, value) written to ``address``, in order."""
        return [(r, v) for op, a, r, v in self.log if op == "w" and a == address]


class FakeSMBus:
    """The ``smbus2.SMBus`` methods rigctl uses, on a :class:`FakeI2CBus`."""

    def __init__(self, bus: FakeI2CBus) -> None:
        self.bus = bus
        bus.opened += 1

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        b = self.bus
        with b.lock:
            value = b._target(i2c_addr).read(register)
            b.log.append(("r", i2c_addr, register, value))
            return value

    def write_byte_data(self, i2c_addr: int, register: int, value: int,
                        force: bool | None = None) -> None:
        b = self.bus
        with b.lock:
            b._target(i2c_addr).write(register, value)
            b.log.append(("w", i2c_addr, register, value))

    def write_byte(self, i2c_addr: int, value: int, force: bool | None = None) -> None:
        b = self.bus
        with b.lock:
            if b.fail_errno is not None:
                raise OSError(b.fail_errno, os.strerror(b.fail_errno))
            mux = b.muxes.get(i2c_addr)
            if mux is None:
                raise OSError(errno.EREMOTEIO, "Remote I/O error")
            mux.control = value & 0xFF
            mux.selects += 1
            b.log.append(("mux", i2c_addr, -1, value))

    def close(self) -> None:
        self.bus.closed += 1


class FakeI2C:
    """Buses by number; ``open(n)`` is the stand-in for ``smbus2.SMBus(n)``."""

    def __init__(self) -> None:
        self.buses: dict[int, FakeI2CBus] = {}

    def bus(self, number: int) -> FakeI2CBus:
        return self.buses.setdefault(number, FakeI2CBus())

    def open(self, number: int) -> FakeSMBus:
        if number not in self.buses:
            raise FileNotFoundError(errno.ENOENT, f"No such file or directory: '/dev/i2c-{number}'")
        return FakeSMBus(self.buses[number])
