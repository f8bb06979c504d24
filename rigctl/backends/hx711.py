"""HX711 amplifiers bit-banged over GPIO through the PyPI ``hx711`` package.

The package (mpibpc-mroose 1.1.2.x) gives pin setup, channel/gain validation
and the pulse count per gain; its own read path is not fit for a 200 Hz
warning loop: ``_read`` sleeps 10 ms per readiness try, ``get_raw_data`` loops
forever on a dead chip and drops every reading equal to 0 or -1, and changing a
setting sleeps 0.5 s. So :class:`HX711Chip` subclasses the package's ``HX711``
for setup and drives the bits itself through the same ``RPi.GPIO`` module:

- one sampler thread per amplifier (SCHED_FIFO just below the loop thread
  where permitted); it sleeps until shortly before the next conversion is due,
  then polls DOUT every ``poll_us`` (not 10 ms);
- each PD_SCK high is timed with ``perf_counter_ns``; a read whose pulse may
  have exceeded 60 us (the chip powers down and resets) is aborted, published
  as ``TIMING`` and counted, never used; the chip is then reset on purpose
  (PD_SCK held high) so its state is known, and readings during the settling
  time after the reset are discarded and counted (``settling``);
- 0x7FFFFF / 0x800000 are published as ``SATURATED``;
- DOUT must be high after the gain pulse; if it is not (shorted or floating
  DOUT) the reading is discarded as ``ERROR``;
- a chip that stops answering publishes nothing: the estimator turns it
  ``stale`` after ``sampling.stale_after_ms``.

DOUT gets the pull-up, so an open DOUT wire reads "not ready" rather than zeros.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from rigctl.config import Config, ConfigError
from rigctl.sampling.slots import SAT_HIGH, SAT_LOW, LatestSlot, SampleStatus
from rigctl.sampling.threaded import SamplerThread, ThreadedSource

log = logging.getLogger(__name__)

PD_SCK_LIMIT_NS = 60_000
#: pulses after the 24 data bits for the next conversion: A/128 -> 1, B/32 -> 2, A/64 -> 3
GAIN_PULSES = {("A", 128): 1, ("B", 32): 2, ("A", 64): 3}
#: counter names in ``LatestSlot.counts`` / ``counters()``
TIMING = "timing"
SETTLING = "settling"
READ_ERROR = "read_error"
SATURATED = "saturated"
NOT_READY = "not_ready"
GOOD = "good"


def settle_ns_for(sps: float) -> int:
    """HX711 output settling time after reset: 50 ms with RATE high, 400 ms at 10 SPS."""
    return 50_000_000 if sps >= 40 else 400_000_000


def decode(code: int) -> int:
    """24-bit two's complement -> signed counts."""
    code &= 0xFFFFFF
    return code - 0x1000000 if code & 0x800000 else code


def _import_package() -> Any:
    try:
        import hx711
    except ImportError as e:
        raise ConfigError(
            "rig.backend: 'hx711' needs the RPi.GPIO module, which is missing "
            f"({e}). On the Pi run: pip install 'rigctl[pi]' (see README, Installers)"
        ) from None
    return hx711


_CHIP_CLASS: Any = None
_CHIP_PKG: Any = None


def _chip_class() -> Any:
    """Subclass of the package's HX711 (built on first use: the import needs RPi.GPIO)."""
    global _CHIP_CLASS, _CHIP_PKG
    pkg = _import_package()
    if _CHIP_CLASS is not None and _CHIP_PKG is pkg:
        return _CHIP_CLASS

    class HX711Chip(pkg.HX711):  # type: ignore[misc, name-defined]
        """The package's pin setup and gain validation; reads are ours."""

        def _apply_setting(self) -> bool:
            # The package reads once and sleeps 0.5 s here. The sampler instead
            # discards readings for the settling time after start or a reset.
            self.settings_changed = True
            return True

        @property
        def gain_pulses(self) -> int:
            if self.channel == "B":
                return GAIN_PULSES[("B", 32)]
            return GAIN_PULSES[("A", int(self.channel_a_gain))]

    _CHIP_CLASS, _CHIP_PKG = HX711Chip, pkg
    return HX711Chip


class ReadResult:
    """Outcome of one read attempt (plain attributes: no allocation beyond the object)."""

    __slots__ = ("code", "status", "worst_high_ns")

    def __init__(self, code: int, status: SampleStatus, worst_high_ns: int) -> None:
        self.code = code
        self.status = status
        self.worst_high_ns = worst_high_ns


def read_bits(gpio: Any, dout: int, sck: int, gain_pulses: int,
              clock: Callable[[], int] = time.perf_counter_ns) -> ReadResult:
    """Clock one conversion out of a chip whose DOUT is low.

    Each PD_SCK high is bracketed by clock readings, so the measured time is an
    upper bound of the real high time: a violation is never missed. The read
    stops at the first violation (the chip has reset; clocking on would only
    disturb it).

    The whole read takes well under CPython's GIL switch interval (0.5 ms in
    the core), so another thread that starts waiting for the GIL during a read
    does not force it away mid-pulse. Offering the GIL between pulses was tried
    (``os.sched_yield``): a release that short rarely hands the GIL over, the
    waiter ends up forcing the switch anyway, and violations went up.
    """
    out = gpio.output
    inp = gpio.input
    data = 0
    worst = 0
    for i in range(24 + gain_pulses):  # 24 data bits, then the pulses that set the gain
        t0 = clock()
        out(sck, 1)
        out(sck, 0)
        dt = clock() - t0
        if dt > worst:
            worst = dt
            if dt >= PD_SCK_LIMIT_NS:
                return ReadResult(data, SampleStatus.TIMING, worst)
        if i < 24:
            data = (data << 1) | inp(dout)
    if inp(dout) == 0:
        # After the gain pulse DOUT must be high until the next conversion.
        return ReadResult(data, SampleStatus.ERROR, worst)
    if data == 0x7FFFFF or data == 0x800000:
        return ReadResult(data, SampleStatus.SATURATED, worst)
    return ReadResult(data, SampleStatus.OK, worst)


class Sampler(SamplerThread):
    """The thread that owns one amplifier and publishes into its slot."""

    def __init__(self, name: str, chip: Any, gpio: Any, slot: LatestSlot, sps: float,
                 poll_us: int = 500, stale_after_ns: int = 60_000_000,
                 fifo_priority: int | None = None) -> None:
        super().__init__(name, slot, f"hx711-{name}")
        self.fifo_priority = fifo_priority
        self.fifo_active = False
        self.chip = chip
        self.gpio = gpio
        self.period_ns = int(1e9 / sps)
        self.settle_ns = settle_ns_for(sps)
        self.poll_s = poll_us / 1e6
        self.stale_after_ns = stale_after_ns
        self.worst_high_ns = 0

    def _enable_fifo(self) -> None:
        # Other processes must not preempt a clock pulse: SCHED_FIFO just below
        # the loop thread (this thread only), where the system permits it.
        if self.fifo_priority is None:
            return
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.fifo_priority))
            self.fifo_active = True
        except (PermissionError, OSError, AttributeError) as e:
            log.info("hx711 sampler %s: SCHED_FIFO not permitted (%s)", self.name, e)

    def _run(self) -> None:
        self._enable_fifo()
        try:
            self._loop()
        except Exception:  # a dead sampler must show: its mount goes stale (fault)
            log.exception("hx711 sampler %s stopped", self.name)
            self.slot.count("sampler_died")

    def _loop(self) -> None:
        gpio, chip, slot = self.gpio, self.chip, self.slot
        dout, sck = chip._dout, chip._pd_sck
        sleep, mono = time.sleep, time.monotonic_ns
        stop = self._stop
        gpio.output(sck, 0)  # a chip left powered down wakes up and resets here
        settled_at = mono() + self.settle_ns
        chip.settings_changed = False
        next_due = mono()
        waiting_since: int | None = None
        reported_not_ready = False
        while not stop.is_set():
            now = mono()
            if now < next_due - 1_000_000:
                # coarse sleep until shortly before the next conversion is due
                sleep(min((next_due - now) / 1e9 - 0.001, 0.05))
                continue
            if gpio.input(dout) != 0:
                if waiting_since is None:
                    waiting_since = now
                elif not reported_not_ready and now - waiting_since > self.stale_after_ns:
                    slot.count(NOT_READY)  # one per episode of silence
                    reported_not_ready = True
                # fine polls while a conversion is due, slower once clearly silent
                sleep(self.poll_s if now - waiting_since < 2 * self.period_ns else 0.005)
                continue
            t_ready = mono()
            waiting_since = None
            reported_not_ready = False
            if chip.settings_changed:  # gain or channel changed: settle again
                chip.settings_changed = False
                settled_at = t_ready + self.settle_ns
            r = read_bits(gpio, dout, sck, chip.gain_pulses)
            if r.worst_high_ns > self.worst_high_ns:
                self.worst_high_ns = r.worst_high_ns
            status = r.status
            if status is SampleStatus.TIMING:
                # The measured bound may exceed 60 us while the chip did not reset
                # and is left mid-shift: force the reset so its state is known.
                gpio.output(sck, 1)
                sleep(0.0002)
                gpio.output(sck, 0)
                slot.count(TIMING)
                slot.publish(t_ready, 0, SampleStatus.TIMING)
                settled_at = mono() + self.settle_ns  # the chip has reset
                next_due = mono() + self.period_ns
                continue
            if status is SampleStatus.ERROR:
                slot.count(READ_ERROR)
                slot.publish(t_ready, 0, SampleStatus.ERROR)
                next_due = mono() + self.period_ns // 4  # never spin on a stuck-low DOUT
                continue
            next_due = t_ready + self.period_ns
            if t_ready < settled_at:
                slot.count(SETTLING)
                continue
            raw = decode(r.code)
            if status is SampleStatus.SATURATED:
                slot.count(SATURATED)
                slot.publish(t_ready, SAT_HIGH if raw > 0 else SAT_LOW, SampleStatus.SATURATED)
                continue
            slot.count(GOOD)
            slot.publish(t_ready, raw)


class HX711Source(ThreadedSource):
    """All mounts of an ``hx711`` rig: one :class:`Sampler` thread per amplifier."""

    def __init__(self, cfg: Config, poll_us: int = 500) -> None:
        self.mount_names = cfg.mount_names
        self.slots = [LatestSlot() for _ in self.mount_names]
        pkg = _import_package()
        gpio = pkg.GPIO
        chip_cls = _chip_class()
        self.gpio = gpio
        self.chips: list[Any] = []
        self.samplers: list[Sampler] = []
        stale_ns = int(cfg.sampling.stale_after_ms * 1e6)
        for (name, m), slot in zip(cfg.mounts.items(), self.slots, strict=True):
            if m.dout_pin is None or m.sck_pin is None:  # the config refuses this already
                raise ConfigError(f"mounts.{name}: dout_pin and sck_pin are required")
            chip = chip_cls(dout_pin=m.dout_pin, pd_sck_pin=m.sck_pin, gain=128, channel="A")
            # pull-up: an open DOUT wire then reads "not ready", never a stream of zeros
            gpio.setup(m.dout_pin, gpio.IN, pull_up_down=gpio.PUD_UP)
            self.chips.append(chip)
            fifo = max(1, cfg.loop.fifo_priority - 1) if cfg.loop.sched_fifo else None
            self.samplers.append(Sampler(name, chip, gpio, slot, cfg.sampling.sps, poll_us,
                                         stale_ns, fifo))
        self.pins = [(m.dout_pin, m.sck_pin) for m in cfg.mounts.values()]
        self._started = False

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        super().start()

    def stop(self) -> None:
        super().stop()
        for dout, sck in self.pins:
            try:
                self.gpio.output(sck, 0)
                self.gpio.cleanup([dout, sck])
            except Exception:  # shutting down: release what can be released
                log.debug("GPIO cleanup failed for %s/%s", dout, sck, exc_info=True)

    def worst_high_us(self) -> list[float]:
        """Longest PD_SCK high seen per mount (us), for diagnose and benches."""
        return [s.worst_high_ns / 1000 for s in self.samplers]
