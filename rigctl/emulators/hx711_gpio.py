"""An HX711 chip behind a fake ``RPi.GPIO`` module.

The chip model follows the datasheet at the level a bit-banging driver sees:

- a conversion every 1/SPS s (12.5 ms at 80 SPS); DOUT goes low when one is ready;
- 24 data bits, MSB first, two's complement, each shifted out on a PD_SCK
  rising edge; pulses 25-27 pick the channel/gain of the *next* conversion
  (25: A/128, 26: B/32, 27: A/64) and DOUT goes high again;
- PD_SCK high for more than 60 us powers the chip down; when PD_SCK returns low
  it resets (channel A, gain 128) and the conversions of the settling time
  after that (50 ms at 80 SPS, 400 ms at 10 SPS) are garbage;
- ``disconnected``: DOUT never goes low (an open wire on a pulled-up input);
  ``dout_stuck_low``: DOUT always reads 0 (a short to ground).

Time is the wall clock (``time.monotonic_ns`` for conversions,
``time.perf_counter_ns`` for the 60 us rule), evaluated lazily on each pin
access, so the emulator needs no thread of its own. A driver that breaks the
protocol (clocks while not ready, too many pulses) is counted in
``protocol_errors`` for tests to assert on.

``install_fake_gpio()`` puts one :class:`FakeGPIO` board into ``sys.modules``
as ``RPi.GPIO`` (before the ``hx711`` package is imported, which binds it at
import time); tests attach chips to pins of that board.
"""

from __future__ import annotations

import random
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any, ClassVar

PD_SCK_POWER_DOWN_NS = 60_000
CODE_MAX = 0x7FFFFF
CODE_MIN = -0x800000
#: next conversion's (channel, gain) by the number of pulses in a read
GAIN_BY_PULSES = {25: ("A", 128), 26: ("B", 32), 27: ("A", 64)}


def to_code(value: int) -> int:
    """Signed counts -> the 24-bit two's complement code the chip shifts out."""
    return max(CODE_MIN, min(CODE_MAX, int(value))) & 0xFFFFFF


def settle_ns_for(sps: float) -> int:
    """Datasheet output settling time: 50 ms with RATE high (80 SPS), 400 ms at 10 SPS."""
    return 50_000_000 if sps >= 40 else 400_000_000


class HX711Chip:
    """One HX711 with a load on channel A.

    The load is ``value`` (signed counts at gain 128), or ``value_fn(k, t_ns)``
    called for conversion ``k`` completing at ``t_ns`` when set.
    """

    def __init__(self, sps: float = 80.0, value: int = 0, seed: int = 0,
                 value_fn: Callable[[int, int], int] | None = None) -> None:
        self.period_ns = int(1e9 / sps)
        self.settle_ns = settle_ns_for(sps)
        self.value = value
        self.value_b = 0
        self.value_fn = value_fn
        self.disconnected = False
        self.dout_stuck_low = False
        #: hold the next read's pulse n high for ``stall_s`` (then clear): a preempted driver
        self.stall_on_pulse: int | None = None
        self.stall_s = 0.0003
        self._rng = random.Random(seed)
        now = time.monotonic_ns()
        self.power_up_ns = now - self.settle_ns  # powered long ago: settled
        self._next_conv_ns = now + self.period_ns
        self._ready = False
        self._code = 0
        self._pulses = 0
        self._sck_high_pc: int | None = None  # perf_counter_ns of the rising edge
        self._bad_pulse = False
        self._gain: tuple[str, int] = ("A", 128)
        # figures for tests and benches
        self.conversions = 0
        self.reads = 0  # complete reads (>= 25 pulses)
        self.power_downs = 0
        self.protocol_errors = 0
        self.garbage_values: list[int] = []
        self.gains_selected: list[tuple[str, int]] = []
        #: ready time (monotonic ns) of the conversion now in the output register
        self.ready_ns = 0

    # -- chip internals -------------------------------------------------------
    def _advance(self, now: int) -> None:
        if now < self._next_conv_ns:
            return
        if 0 < self._pulses < 25:
            # a read is in progress: the output register is locked, results are lost
            while self._next_conv_ns <= now:
                self._next_conv_ns += self.period_ns
            return
        if self._pulses >= 25:
            self._gain = GAIN_BY_PULSES.get(self._pulses, self._gain)
            self.gains_selected.append(self._gain)
            self._pulses = 0
        t = self._next_conv_ns
        while self._next_conv_ns <= now:
            t = self._next_conv_ns
            self._next_conv_ns += self.period_ns
            self.conversions += 1
        self._code = self._convert(t)
        self._ready = True
        self.ready_ns = t

    def _convert(self, t_ns: int) -> int:
        if t_ns - self.power_up_ns < self.settle_ns:
            junk = self._rng.randrange(CODE_MIN + 1, CODE_MAX)
            self.garbage_values.append(junk)
            return to_code(junk)
        channel, gain = self._gain
        if channel == "B":
            return to_code(self.value_b)
        v = self.value_fn(self.conversions, t_ns) if self.value_fn else self.value
        return to_code(v if gain == 128 else v // 2)

    def _reset(self, now: int) -> None:
        self.power_downs += 1
        self.power_up_ns = now
        self._next_conv_ns = now + self.period_ns
        self._ready = False
        self._pulses = 0
        self._gain = ("A", 128)

    # -- pins ---------------------------------------------------------------------
    def sck(self, high: bool) -> None:
        if high:
            if self._sck_high_pc is not None:
                return
            now = time.monotonic_ns()
            self._advance(now)
            self._sck_high_pc = time.perf_counter_ns()
            p = self._pulses
            if self.stall_on_pulse is not None and p + 1 == self.stall_on_pulse:
                self.stall_on_pulse = None
                time.sleep(self.stall_s)  # PD_SCK stays high: as if the driver was preempted
            if p == 0:
                if not self._ready:
                    self._bad_pulse = True  # clocked while DOUT was high
                    return
                self._pulses = 1
            elif p < 24:
                self._pulses = p + 1
            elif p == 24:
                self._pulses = 25
                self._ready = False
                self.reads += 1
            elif p < 27:
                self._pulses = p + 1
            else:
                self._bad_pulse = True  # more than 27 pulses
            return
        if self._sck_high_pc is None:
            return
        high_for = time.perf_counter_ns() - self._sck_high_pc
        self._sck_high_pc = None
        if high_for > PD_SCK_POWER_DOWN_NS:
            self._reset(time.monotonic_ns())  # a long pulse is a (maybe wanted) reset
        elif self._bad_pulse:
            self.protocol_errors += 1
        self._bad_pulse = False

    def dout(self) -> int:
        if self.disconnected:
            return 1
        if self.dout_stuck_low:
            return 0
        hp = self._sck_high_pc
        if hp is not None:
            if time.perf_counter_ns() - hp > PD_SCK_POWER_DOWN_NS:
                return 1  # powered down
        else:
            self._advance(time.monotonic_ns())
        p = self._pulses
        if 1 <= p <= 24:
            return (self._code >> (24 - p)) & 1
        if p >= 25:
            return 1
        return 0 if self._ready else 1


class FakeGPIO(types.ModuleType):
    """The subset of ``RPi.GPIO`` the hx711 package and rigctl use, with chips on pins.

    Mirrors RPi.GPIO's own errors: no numbering mode set, switching modes,
    writing a pin that is not an output.
    """

    BCM = 11
    BOARD = 10
    OUT = 0
    IN = 1
    HIGH = 1
    LOW = 0
    PUD_OFF = 20
    PUD_DOWN = 21
    PUD_UP = 22
    RPI_INFO: ClassVar[dict[str, Any]] = {"TYPE": "emulated", "P1_REVISION": 3}
    VERSION = "0.7.1-emulated"

    def __init__(self) -> None:
        super().__init__("RPi.GPIO", "rigctl emulated RPi.GPIO")
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget modes, pins and chips (a fresh board for the next test)."""
        self._mode: int | None = None
        self.pins_setup: dict[int, tuple[int, int]] = {}
        self.levels: dict[int, int] = {}
        self._chips_by_sck: dict[int, HX711Chip] = {}
        self._chips_by_dout: dict[int, HX711Chip] = {}

    def attach(self, chip: HX711Chip, dout: int, sck: int) -> HX711Chip:
        with self._lock:
            self._chips_by_dout[dout] = chip
            self._chips_by_sck[sck] = chip
        return chip

    # -- the RPi.GPIO API -------------------------------------------------------
    def setwarnings(self, flag: bool) -> None:
        pass

    def setmode(self, mode: int) -> None:
        if mode not in (self.BCM, self.BOARD):
            raise ValueError("An invalid mode was passed to setmode()")
        if self._mode is not None and self._mode != mode:
            raise ValueError("A different mode has already been set!")
        self._mode = mode

    def getmode(self) -> int | None:
        return self._mode

    def setup(self, channel: int, direction: int, pull_up_down: int = PUD_OFF,
              initial: int = -1) -> None:
        if self._mode is None:
            raise RuntimeError("Please set pin numbering mode using GPIO.setmode(GPIO.BOARD) "
                               "or GPIO.setmode(GPIO.BCM)")
        self.pins_setup[channel] = (direction, pull_up_down)
        if direction == self.OUT and initial in (0, 1):
            self.output(channel, initial)

    def output(self, channel: int, value: int | bool) -> None:
        setup = self.pins_setup.get(channel)
        if setup is None or setup[0] != self.OUT:
            raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
        level = 1 if value else 0
        self.levels[channel] = level
        chip = self._chips_by_sck.get(channel)
        if chip is not None:
            chip.sck(level == 1)

    def input(self, channel: int) -> int:
        setup = self.pins_setup.get(channel)
        if setup is None:
            raise RuntimeError("You must setup() the GPIO channel first")
        chip = self._chips_by_dout.get(channel)
        if chip is not None:
            return chip.dout()
        if setup[0] == self.IN:
            return 1 if setup[1] == self.PUD_UP else 0
        return self.levels.get(channel, 0)

    def cleanup(self, channel: int | list[int] | tuple[int, ...] | None = None) -> None:
        if channel is None:
            self.pins_setup.clear()
            self.levels.clear()
            self._mode = None
            return
        for ch in (channel,) if isinstance(channel, int) else channel:
            self.pins_setup.pop(ch, None)
            self.levels.pop(ch, None)


_BOARD: FakeGPIO | None = None


def install_fake_gpio() -> FakeGPIO:
    """Make ``import RPi.GPIO`` give the emulated board (one per process), reset.

    Refuses when a real ``RPi.GPIO`` is already imported: an emulator must never
    shadow real pins in a process that drives a rig. Undo with
    :func:`uninstall_fake_gpio`.
    """
    global _BOARD
    current = sys.modules.get("RPi.GPIO")
    if current is not None and not isinstance(current, FakeGPIO):
        raise RuntimeError("a real RPi.GPIO is already imported; not installing the emulator")
    if _BOARD is None:
        _BOARD = current if isinstance(current, FakeGPIO) else FakeGPIO()
    if sys.modules.get("RPi.GPIO") is not _BOARD:
        pkg = types.ModuleType("RPi", "rigctl emulated RPi package")
        pkg.__path__ = []
        pkg.GPIO = _BOARD  # type: ignore[attr-defined]
        sys.modules["RPi"] = pkg
        sys.modules["RPi.GPIO"] = _BOARD
    hx = sys.modules.get("hx711")
    if hx is not None and getattr(hx, "GPIO", None) is not _BOARD:
        raise RuntimeError("the hx711 package was imported before the emulator was installed")
    _BOARD.reset()
    return _BOARD


def uninstall_fake_gpio() -> None:
    """Take the emulated RPi.GPIO (and the hx711 package bound to it) out of sys.modules,
    so later code in the process sees the machine as it is."""
    if _BOARD is None:
        return
    if sys.modules.get("RPi.GPIO") is _BOARD:
        del sys.modules["RPi.GPIO"]
        rpi = sys.modules.get("RPi")
        if rpi is not None and getattr(rpi, "GPIO", None) is _BOARD:
            del sys.modules["RPi"]
    hx = sys.modules.get("hx711")
    if hx is not None and getattr(hx, "GPIO", None) is _BOARD:
        del sys.modules["hx711"]
