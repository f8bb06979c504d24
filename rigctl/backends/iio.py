"""HX711 amplifiers through the kernel IIO ``hx711`` driver (sysfs).

The kernel clocks the bits with interrupts off per PD_SCK pulse, so the 60 us
rule cannot break under load: the production-grade choice where a device-tree
overlay is acceptable (``hardware/IIO.md``). Each read of ``in_voltage0_raw``
waits for a fresh conversion of channel A; the driver reports it as offset
binary (code XOR 0x800000, 0 .. 0xFFFFFF), which is turned back into the signed
counts the ``hx711`` backend gives, so a calibration fits both backends.

The kernel polls readiness with ``msleep(10)``: a read issued before the
conversion is ready returns 10-20 ms late. :class:`IioPacer` therefore issues
reads once per conversion period and nudges its phase so reads land just after
the data is ready (a read that returned slowly was early).

Devices are found by ``label`` (the DT ``label`` property, read by the IIO core),
then by directory name (``iio:device2``), then by device-tree node name
(``of_node/name``, e.g. ``hx711-bar-a-left``), then by ``name`` when that is unique.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from rigctl.config import Config, ConfigError
from rigctl.sampling.slots import SAT_HIGH, SAT_LOW, LatestSlot, SampleStatus
from rigctl.sampling.threaded import SamplerThread, ThreadedSource

log = logging.getLogger(__name__)

SYSFS_IIO = Path("/sys/bus/iio/devices")
RAW_FILE = "in_voltage0_raw"
OFFSET = 0x800000


def decode_offset_binary(value: int) -> tuple[int, SampleStatus]:
    """Kernel hx711 value (code ^ 0x800000) -> (signed counts, status)."""
    if value <= 0:
        return SAT_LOW, SampleStatus.SATURATED
    if value >= 0xFFFFFF:
        return SAT_HIGH, SampleStatus.SATURATED
    return value - OFFSET, SampleStatus.OK


def _read_attr(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def find_device(root: Path, wanted: str, key: str) -> Path:
    """The IIO device directory for ``wanted`` (label, directory name, or unique name)."""
    try:
        devices = sorted(p for p in root.iterdir() if p.name.startswith("iio:device"))
    except OSError as e:
        raise ConfigError(f"{key}: cannot list {root} ({e.strerror or e}); is this a Linux "
                          "system with the IIO subsystem?") from None
    by_label = [d for d in devices if _read_attr(d / "label") == wanted]
    if len(by_label) == 1:
        return by_label[0]
    if len(by_label) > 1:
        raise ConfigError(f"{key}: {len(by_label)} IIO devices are labelled '{wanted}'; "
                          "labels must be unique (see hardware/IIO.md)")
    for d in devices:
        if d.name == wanted:
            return d
    by_node = [d for d in devices if _read_attr(d / "of_node" / "name") == wanted]
    if len(by_node) == 1:
        return by_node[0]
    by_name = [d for d in devices if _read_attr(d / "name") == wanted]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise ConfigError(
            f"{key}: {len(by_name)} IIO devices are named '{wanted}'; give each HX711 a "
            "label in the overlay and use the label here (see hardware/IIO.md)")
    found = ", ".join(
        f"{d.name}(name={_read_attr(d / 'name')}, label={_read_attr(d / 'label')})"
        for d in devices) or "none"
    raise ConfigError(f"{key}: no IIO device labelled or named '{wanted}' under {root} "
                      f"(found: {found}); is the hx711 overlay loaded? (hardware/IIO.md)")


class IioPacer:
    """When to issue the next read so it lands just after the next conversion.

    Pure: it sees the call and return times of the last read. A read that took
    longer than ``early_ns`` waited inside the kernel (it was early): the next
    one goes a period after that return plus a margin. A quick read found data
    waiting: the next goes one period after it was issued, minus ``creep_ns``,
    so the phase creeps towards the conversion edge.
    """

    def __init__(self, period_ns: int, early_ns: int = 3_000_000, creep_ns: int = 50_000,
                 margin_ns: int = 300_000) -> None:
        self.period_ns = period_ns
        self.early_ns = early_ns
        self.creep_ns = creep_ns
        self.margin_ns = margin_ns

    def next_call_ns(self, called_ns: int, returned_ns: int) -> int:
        if returned_ns - called_ns > self.early_ns:
            return returned_ns + self.period_ns + self.margin_ns
        return max(called_ns + self.period_ns - self.creep_ns, returned_ns)


class IioSampler(SamplerThread):
    def __init__(self, name: str, path: Path, slot: LatestSlot, sps: float) -> None:
        super().__init__(name, slot, f"iio-{name}")
        self.path = path
        self.pacer = IioPacer(int(1e9 / sps))
        self.last_error: str | None = None

    def _read(self) -> int:
        # open per read: works for sysfs (each read is a new conversion) and for
        # the test tree, whose files are replaced atomically
        fd = os.open(self.path, os.O_RDONLY)
        try:
            return int(os.read(fd, 32).strip())
        finally:
            os.close(fd)

    def _run(self) -> None:
        slot, mono = self.slot, time.monotonic_ns
        next_call = mono()
        while not self._stop.is_set():
            delay = next_call - mono()
            if delay > 0 and self._stop.wait(delay / 1e9):
                break
            called = mono()
            try:
                value = self._read()
            except (OSError, ValueError) as e:
                returned = mono()
                slot.count("read_error")
                slot.publish(returned, 0, SampleStatus.ERROR)
                if self.last_error is None:
                    log.warning("iio %s: reading %s failed: %s", self.name, self.path, e)
                self.last_error = str(e)
                next_call = returned + self.pacer.period_ns  # retry once per period
                continue
            returned = mono()
            self.last_error = None
            raw, status = decode_offset_binary(value)
            if status is SampleStatus.SATURATED:
                slot.count("saturated")
            else:
                slot.count("good")
            slot.publish(returned, raw, status)
            next_call = self.pacer.next_call_ns(called, returned)


class IioSource(ThreadedSource):
    def __init__(self, cfg: Config, root: Path = SYSFS_IIO) -> None:
        self.mount_names = cfg.mount_names
        self.slots = [LatestSlot() for _ in self.mount_names]
        self.samplers: list[IioSampler] = []
        self.devices: list[Path] = []
        for (name, m), slot in zip(cfg.mounts.items(), self.slots, strict=True):
            key = f"mounts.{name}.iio_device"
            if not m.iio_device:
                raise ConfigError(f"{key} is required with backend 'iio'")
            dev = find_device(root, m.iio_device, key)
            if dev in self.devices:
                raise ConfigError(f"{key}: {dev.name} is already used by another mount")
            self.devices.append(dev)
            self.samplers.append(IioSampler(name, dev / RAW_FILE, slot, cfg.sampling.sps))
