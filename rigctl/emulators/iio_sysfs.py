"""A fake ``/sys/bus/iio/devices`` tree with kernel ``hx711`` devices in it.

Each device directory holds ``name`` ("hx711"), an optional ``label``,
``in_voltage0_raw`` in the kernel driver's offset binary (code ^ 0x800000) and
``in_voltage_scale``. A writer thread replaces ``in_voltage0_raw`` atomically at
the conversion rate. ``disconnect(label)`` turns the attribute into something
that fails to read (as the kernel's read fails with EIO after its 1 s wait).

What it does not do: block a read until the next conversion as real sysfs
does, so a reader sees the current value however often it reads.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rigctl.emulators.hx711_gpio import to_code

ValueFn = Callable[[int], int]  # monotonic ns -> signed counts


def _as_fn(value: ValueFn | int) -> ValueFn:
    if callable(value):
        return value
    const = int(value)
    return lambda _t: const


def offset_binary(counts: int) -> int:
    return to_code(counts) ^ 0x800000


class FakeIioTree:
    def __init__(self, root: Path, sps: float = 80.0) -> None:
        self.root = root
        self.period_s = 1.0 / sps
        self.root.mkdir(parents=True, exist_ok=True)
        self.devices: dict[str, Path] = {}
        self.values: dict[str, ValueFn] = {}
        self.writes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def add(self, label: str | None, value: ValueFn | int = 0, name: str = "hx711",
            node: str | None = None) -> Path:
        """A device; ``label`` None gives an unlabelled one; ``node`` its DT node name."""
        index = len(self.devices)
        d = self.root / f"iio:device{index}"
        d.mkdir()
        (d / "name").write_text(name + "\n")
        if label is not None:
            (d / "label").write_text(label + "\n")
        if node is not None:
            (d / "of_node").mkdir()
            (d / "of_node" / "name").write_text(node + "\n")
        (d / "in_voltage_scale").write_text("0.000000152\n")
        key = label if label is not None else d.name
        self.devices[key] = d
        self.values[key] = _as_fn(value)
        self._write(key, time.monotonic_ns())
        return d

    def set_value(self, key: str, value: ValueFn | int) -> None:
        self.values[key] = _as_fn(value)

    def _write(self, key: str, now_ns: int) -> None:
        d = self.devices[key]
        raw = d / "in_voltage0_raw"
        if raw.is_dir():
            return  # disconnected
        tmp = d / ".in_voltage0_raw.tmp"
        tmp.write_text(f"{offset_binary(self.values[key](now_ns))}\n")
        os.replace(tmp, raw)
        self.writes += 1

    def disconnect(self, key: str) -> None:
        with self._lock:
            raw = self.devices[key] / "in_voltage0_raw"
            raw.unlink(missing_ok=True)
            raw.mkdir()  # reading a directory fails with EISDIR, like a failed conversion

    def reconnect(self, key: str) -> None:
        with self._lock:
            raw = self.devices[key] / "in_voltage0_raw"
            if raw.is_dir():
                shutil.rmtree(raw)
            self._write(key, time.monotonic_ns())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fake-iio", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)

    def _run(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            next_t += self.period_s
            delay = next_t - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            now = time.monotonic_ns()
            with self._lock:
                for key in self.devices:
                    self._write(key, now)
