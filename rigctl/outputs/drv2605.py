"""DRV2605L haptic driver in a bar grip, over I2C with ``smbus2``.

One device per grip at 0x5A; two grips need two buses or a TCA9548A
multiplexer (``mux_address`` / ``mux_channel``), whose channel is selected
before every group of transfers under a per-bus lock.

What the therapist feels per warning state (``Commands.haptic_pattern``):

| pattern | DRV2605L |
|---|---|
| none | stop (GO=0, or leave RTP) |
| short_pulse (caution) | ROM effect 1 "strong click 100 %" on entry |
| continuous_strong (over) | real-time playback (RTP) at full scale until it ends |
| double_pulse (ease) | effect 1 on every pulse of the loop's pattern (two per second) |
| pulses (overload) | effect 14 "strong buzz 100 %" on every pulse (2 Hz) |
| fault | effect 47 "buzz 1 100 %" on every pulse of the fault rhythm |
| anything else | RTP following ``Commands.haptic`` (never silent) |

Pulses are timed by the 200 Hz loop (the rising edges of ``Commands.haptic``),
so rhythms match the LEDs and the buzzer exactly. ``apply`` runs in the tick and
only records what is wanted; a worker thread does the I2C, so a slow or hung
bus never stalls the loop. Missed pulses are not replayed: after a stall the
newest state wins. Every I2C error is counted in ``faults`` (a haptic fault in
status) and the chip is set up again on the next try; it never raises into the
loop, and the LEDs and buzzer keep warning.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rigctl.config import ConfigError, HapticDeviceSection
from rigctl.core.patterns import Commands
from rigctl.outputs.base import OutputSink

log = logging.getLogger(__name__)

# -- register map (DRV2605L datasheet, section 8.6) -----------------------------
REG_STATUS = 0x00  # DEVICE_ID[7:5], DIAG_RESULT[3], OVER_TEMP[1], OC_DETECT[0]
REG_MODE = 0x01  # DEV_RESET[7], STANDBY[6], MODE[2:0]
REG_RTP_INPUT = 0x02
REG_LIBRARY = 0x03  # LIBRARY_SEL[2:0]
REG_WAVESEQ1 = 0x04  # .. 0x0B: effect ids, 0 ends the sequence
REG_WAVESEQ2 = 0x05
REG_GO = 0x0C
REG_FEEDBACK = 0x1A  # N_ERM_LRA[7]
REG_CONTROL3 = 0x1D  # ERM_OPEN_LOOP[5], DATA_FORMAT_RTP[3]

MODE_INTERNAL_TRIGGER = 0x00
MODE_RTP = 0x05
MODE_STANDBY = 0x40
STATUS_OVER_TEMP = 0x02
STATUS_OC_DETECT = 0x01
FEEDBACK_LRA = 0x80
CONTROL3_ERM_OPEN_LOOP = 0x20
CONTROL3_RTP_UNSIGNED = 0x08
LIBRARY_LRA = 6
RTP_FULL = 0x7F

DEVICE_IDS = {3: "DRV2605", 4: "DRV2604", 6: "DRV2604L", 7: "DRV2605L"}
#: chips with the licensed ROM effect library this driver plays from
ROM_CHIPS = {3, 7}

EFFECT_STRONG_CLICK = 1
EFFECT_STRONG_BUZZ = 14
EFFECT_BUZZ = 47
#: pattern -> ("stop",) | ("rom", effect) | ("rtp", level)
PATTERN_ACTIONS: dict[str, tuple[str, int]] = {
    "none": ("stop", 0),
    "short_pulse": ("rom", EFFECT_STRONG_CLICK),
    "continuous_strong": ("rtp", RTP_FULL),
    "double_pulse": ("rom", EFFECT_STRONG_CLICK),
    "pulses": ("rom", EFFECT_STRONG_BUZZ),
    "fault": ("rom", EFFECT_BUZZ),
}


class SMBusLike(Protocol):
    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...
    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...
    def write_byte(self, i2c_addr: int, value: int) -> None: ...
    def close(self) -> None: ...


BusOpener = Callable[[int], SMBusLike]


def smbus2_opener(number: int) -> SMBusLike:
    from smbus2 import SMBus

    bus: SMBusLike = SMBus(number)
    return bus


class ChipError(Exception):
    """The device answered but is not a usable DRV2605/DRV2605L."""


@dataclass
class BusHandle:
    """One open bus shared by the grips on it; the lock covers mux select + transfers."""

    number: int
    bus: SMBusLike
    lock: threading.Lock


def check_bus(number: int, key: str, dev_dir: Path) -> Path:
    """The bus device node, or a ConfigError naming the key (checked at start)."""
    node = dev_dir / f"i2c-{number}"
    if not node.exists():
        raise ConfigError(f"{key}: {node} does not exist - enable I2C (sudo raspi-config "
                          "nonint do_i2c 0, or dtparam=i2c_arm=on) or fix the bus number")
    return node


def open_buses(haptics: dict[str, HapticDeviceSection], opener: BusOpener,
               dev_dir: Path) -> dict[int, BusHandle]:
    handles: dict[int, BusHandle] = {}
    for grip, h in haptics.items():
        if h.bus in handles:
            continue
        key = f"haptics.{grip}.bus"
        node = check_bus(h.bus, key, dev_dir)
        try:
            bus = opener(h.bus)
        except OSError as e:
            raise ConfigError(f"{key}: cannot open {node}: {e.strerror or e} (is the user in "
                              "the i2c group?)") from None
        handles[h.bus] = BusHandle(h.bus, bus, threading.Lock())
    return handles


class Drv2605:
    """Register-level access to one DRV2605L (raises OSError / ChipError)."""

    def __init__(self, handle: BusHandle, cfg: HapticDeviceSection) -> None:
        self.handle = handle
        self.cfg = cfg
        self.address = cfg.address
        self.chip_id: int | None = None
        self.mode: int | None = None
        self.effect: int | None = None

    @property
    def where(self) -> str:
        mux = (f" via mux 0x{self.cfg.mux_address:02x} channel {self.cfg.mux_channel}"
               if self.cfg.mux_address is not None else "")
        return f"0x{self.address:02x} on /dev/i2c-{self.handle.number}{mux}"

    @contextmanager
    def _bus(self) -> Iterator[SMBusLike]:
        h = self.handle
        with h.lock:
            c = self.cfg
            if c.mux_address is not None and c.mux_channel is not None:
                h.bus.write_byte(c.mux_address, 1 << c.mux_channel)
            yield h.bus

    def _write(self, bus: SMBusLike, reg: int, value: int) -> None:
        bus.write_byte_data(self.address, reg, value)

    def _set_mode(self, bus: SMBusLike, mode: int) -> None:
        if self.mode != mode:
            self._write(bus, REG_MODE, mode)
            self.mode = mode

    def read_status(self) -> int:
        with self._bus() as bus:
            status: int = bus.read_byte_data(self.address, REG_STATUS)
            return status

    def probe(self) -> int:
        """DEVICE_ID from STATUS bits 7:5 (3 DRV2605, 7 DRV2605L)."""
        chip_id = (self.read_status() >> 5) & 0x07
        self.chip_id = chip_id
        return chip_id

    def setup(self) -> None:
        """Chip-ID check, leave standby, actuator and library select, RTP idle."""
        chip_id = self.probe()
        if chip_id not in ROM_CHIPS:
            name = DEVICE_IDS.get(chip_id, "unknown")
            raise ChipError(f"chip id {chip_id} ({name}) at {self.where}: a DRV2605 or "
                            "DRV2605L (id 3 or 7, with the ROM effect library) is needed")
        lra = self.cfg.actuator == "lra"
        library = LIBRARY_LRA if lra else (self.cfg.library or 1)
        with self._bus() as bus:
            self.mode = None
            self._set_mode(bus, MODE_INTERNAL_TRIGGER)  # out of standby
            fb = bus.read_byte_data(self.address, REG_FEEDBACK)
            fb = (fb | FEEDBACK_LRA) if lra else (fb & ~FEEDBACK_LRA & 0xFF)
            self._write(bus, REG_FEEDBACK, fb)
            c3 = bus.read_byte_data(self.address, REG_CONTROL3)
            c3 &= ~CONTROL3_RTP_UNSIGNED & 0xFF  # signed RTP data: 0x7F is full scale
            c3 = (c3 & ~CONTROL3_ERM_OPEN_LOOP & 0xFF) if lra else (c3 | CONTROL3_ERM_OPEN_LOOP)
            self._write(bus, REG_CONTROL3, c3)
            self._write(bus, REG_LIBRARY, library)
            self._write(bus, REG_RTP_INPUT, 0)
            self.effect = None

    def select_effect(self, effect: int) -> None:
        """Internal-trigger mode with a one-effect sequence, ready for GO."""
        with self._bus() as bus:
            if self.mode == MODE_RTP:
                self._write(bus, REG_RTP_INPUT, 0)
            self._set_mode(bus, MODE_INTERNAL_TRIGGER)
            if self.effect != effect:
                self._write(bus, REG_WAVESEQ1, effect)
                self._write(bus, REG_WAVESEQ2, 0)
                self.effect = effect

    def go(self) -> None:
        with self._bus() as bus:
            self._write(bus, REG_GO, 1)

    def rtp(self, level: int) -> None:
        """Real-time playback at ``level`` (signed, 0x7F full scale) until changed."""
        with self._bus() as bus:
            self._write(bus, REG_RTP_INPUT, level & 0xFF)
            self._set_mode(bus, MODE_RTP)

    def stop(self) -> None:
        with self._bus() as bus:
            if self.mode == MODE_RTP:
                self._write(bus, REG_RTP_INPUT, 0)
                self._set_mode(bus, MODE_INTERNAL_TRIGGER)
            else:
                self._write(bus, REG_GO, 0)

    def standby(self) -> None:
        with self._bus() as bus:
            self._write(bus, REG_RTP_INPUT, 0)
            self._write(bus, REG_MODE, MODE_STANDBY)
            self.mode = MODE_STANDBY

    def check(self) -> str | None:
        """Health check: a problem as text, or None. A chip found in standby was reset."""
        status = self.read_status()
        if (status >> 5) & 0x07 != self.chip_id:
            return f"chip id changed to {(status >> 5) & 0x07}"
        if status & STATUS_OVER_TEMP:
            return "over temperature"
        if status & STATUS_OC_DETECT:
            return "over current (shorted actuator?)"
        with self._bus() as bus:
            mode = bus.read_byte_data(self.address, REG_MODE)
        if mode & MODE_STANDBY and self.mode != MODE_STANDBY:
            return "found in standby (power glitch?)"
        return None


Desired = tuple[str, int, float]  # (pattern, pulse number, haptic level)


class Drv2605Sink(OutputSink):
    """One grip's DRV2605L as an output sink; the I2C happens in its own thread."""

    def __init__(self, grip: str, handle: BusHandle, cfg: HapticDeviceSection,
                 health_every_s: float = 1.0) -> None:
        self.grip = grip
        self.dev = Drv2605(handle, cfg)
        self.faults = 0
        self.last_error: str | None = None
        self.ok = False
        self.health_every_s = health_every_s
        self._last: Commands | None = None
        self._pulse = 0
        self._desired: Desired = ("none", 0, 0.0)
        self._gen = 0
        self._done_gen = -1
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"drv2605-{grip}", daemon=True)
        self._thread.start()

    # -- loop thread: O(1), no I/O ---------------------------------------------------
    def apply(self, cmd: Commands) -> None:
        last = self._last
        self._last = cmd
        pat = cmd.haptic_pattern
        new_pattern = last is None or pat != last.haptic_pattern
        rising = cmd.haptic > 0 and (new_pattern or last is None or last.haptic <= 0)
        follow = pat not in PATTERN_ACTIONS and (last is None or cmd.haptic != last.haptic)
        if new_pattern or rising or follow:
            if rising:
                self._pulse += 1
            self._desired = (pat, self._pulse, cmd.haptic)
            self._gen += 1
            self._wake.set()

    # -- worker thread -------------------------------------------------------------------
    def _fail(self, err: Exception) -> None:
        self.faults += 1
        self.ok = False
        msg = f"{self.grip}: DRV2605L {self.dev.where}: {err}"
        if self.last_error is None:
            log.warning("haptic %s - LEDs and buzzer keep warning", msg)
        self.last_error = msg

    def _run(self) -> None:
        applied: Desired | None = None
        ready = False
        while True:
            gen = self._gen
            desired = self._desired
            try:
                if not ready:
                    self.dev.setup()
                    ready, applied = True, None
                    self.ok, self.last_error = True, None
                if desired != applied:
                    self._drive(desired, applied)
                    applied = desired
            except Exception as e:  # not only I2C errors: a dead worker leaves the motor as is
                ready = False
                self._fail(e)
            with self._cond:
                self._done_gen = gen
                self._cond.notify_all()
            if self._stop.is_set():
                break
            if self._wake.wait(self.health_every_s if ready else min(self.health_every_s, 1.0)):
                self._wake.clear()
                continue
            if ready and not self._stop.is_set():
                try:
                    problem = self.dev.check()
                except Exception as e:
                    problem = str(e)
                if problem is not None:
                    ready = False
                    self._fail(RuntimeError(problem))
        try:
            if ready:
                self.dev.stop()
                self.dev.standby()
        except OSError as e:
            self._fail(e)

    def _drive(self, desired: Desired, applied: Desired | None) -> None:
        pat, pulse, level = desired
        action, arg = PATTERN_ACTIONS.get(pat, ("follow", 0))
        pattern_changed = applied is None or applied[0] != pat
        if action == "stop":
            if pattern_changed:
                self.dev.stop()
        elif action == "rom":
            if pattern_changed:
                self.dev.select_effect(arg)
            if level > 0 and (applied is None or pattern_changed or applied[1] != pulse):
                self.dev.go()
        elif action == "rtp":
            if pattern_changed:
                self.dev.rtp(arg)
        else:
            self.dev.rtp(round(max(0.0, min(level, 1.0)) * RTP_FULL))

    # -- control ----------------------------------------------------------------------------
    def flush(self, timeout: float = 1.0) -> bool:
        """Wait until the worker has acted on everything applied so far (tests, diagnose)."""
        gen = self._gen
        with self._cond:
            return self._cond.wait_for(lambda: self._done_gen >= gen, timeout)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(2.0)

    def status(self) -> dict[str, object]:
        cid = self.dev.chip_id
        return {
            "kind": "drv2605", "grip": self.grip, "faults": self.faults, "ok": self.ok,
            "chip_id": cid, "chip": DEVICE_IDS.get(cid) if cid is not None else None,
            "where": self.dev.where, "last_error": self.last_error,
        }


def probe_device(handle: BusHandle, cfg: HapticDeviceSection) -> tuple[int, str]:
    """(chip id, name) of the device, for ``rigctl diagnose`` (raises OSError)."""
    chip_id = Drv2605(handle, cfg).probe()
    return chip_id, DEVICE_IDS.get(chip_id, "unknown")


def build_haptics(haptics: dict[str, HapticDeviceSection], opener: BusOpener | None = None,
                  dev_dir: Path = Path("/dev")) -> list[Drv2605Sink]:
    """One sink per configured grip; a missing bus stops start-up naming the key."""
    handles = open_buses(haptics, opener or smbus2_opener, dev_dir)
    return [Drv2605Sink(grip, handles[h.bus], h) for grip, h in haptics.items()]
