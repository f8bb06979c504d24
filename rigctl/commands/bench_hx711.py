"""``rigctl bench-hx711``: rigctl's hx711 backend vs the package's ``get_raw_data()``.

Both run against the same emulated chips (fake RPi.GPIO, N chips at the given
SPS) one after the other, each watched by a 200 Hz poller that plays the loop.
Each conversion carries a unique value whose ready time the emulator records,
so sample-to-loop latency is exact: the time from the chip's data-ready edge to
the poll that first sees the value (``latency_ms``; it includes up to one 5 ms
poll period) and to the moment the value is in the slot (``ready_to_slot_ms``:
the driver's own share). The baseline calls
``HX711(...).get_raw_data(times=3)`` in a loop per chip (its README's usage, in
one thread per chip as rigctl does) and publishes the newest reading of each
call. ``garbage_values_used`` counts values the poller received that no
conversion produced (read from a chip resetting after a 60 us violation).
Figures only: nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from rigctl.config import Config, parse_config
from rigctl.sampling.slots import LatestSlot, Sample, SampleStatus

#: BCM pins for up to 8 chips (DOUT, PD_SCK) as on config/rigctl.toml, then more
PIN_PAIRS = [(5, 6), (13, 19), (20, 21), (24, 25), (7, 8), (9, 10), (11, 12), (14, 15)]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench-hx711", help="hx711 backend vs the hx711 package's "
                                           "get_raw_data(), on emulated chips")
    p.add_argument("--seconds", type=float, default=5.0, help="per side (default 5)")
    p.add_argument("--chips", type=int, default=4, choices=range(1, len(PIN_PAIRS) + 1),
                   metavar="N", help="emulated chips (default 4)")
    p.add_argument("--sps", type=float, default=80.0, help="chip rate (default 80)")
    p.add_argument("--times", type=int, default=3,
                   help="readings per get_raw_data() call in the baseline (default 3, "
                        "the README's; the package refuses 1)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=main)


def bench_config(chips: int, sps: float) -> Config:
    mounts = {f"m{i}": {"bar": "a", "dout_pin": d, "sck_pin": s}
              for i, (d, s) in enumerate(PIN_PAIRS[:chips])}
    return parse_config({"rig": {"backend": "hx711"}, "sampling": {"sps": sps},
                         "mounts": mounts, "outputs": {"haptic": "none"}})


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 3)


class Ledger:
    """Unique value per conversion -> its ready time (monotonic ns)."""

    def __init__(self) -> None:
        self.ready: dict[int, int] = {}
        self._next = 1000

    def value_fn(self, chip: int) -> Callable[[int, int], int]:
        def fn(_k: int, t_ns: int) -> int:
            v = self._next * 16 + chip
            self._next += 1
            self.ready[v] = t_ns
            return v
        return fn


def watch(slots: list[LatestSlot], ledger: Ledger, seconds: float,
          oldest: Callable[[int], int | None] | None = None) -> dict[str, Any]:
    """A 200 Hz poller: new samples per slot and their latency from data-ready."""
    period = 5_000_000
    n = len(slots)
    seen = [s.sample.seq if s.sample is not None else 0 for s in slots]
    counts = [0] * n
    garbage = 0
    lat: list[float] = []
    to_slot: list[float] = []
    lat_oldest: list[float] = []
    cpu0, t0 = time.process_time(), time.monotonic_ns()
    deadline = t0
    end = t0 + int(seconds * 1e9)
    while True:
        deadline += period
        now = time.monotonic_ns()
        if deadline > now:
            time.sleep((deadline - now) / 1e9)
        now = time.monotonic_ns()
        if now >= end:
            break
        for i, slot in enumerate(slots):
            s: Sample | None = slot.sample
            if s is None or s.seq == seen[i]:
                continue
            seen[i] = s.seq
            if s.status is not SampleStatus.OK:
                continue
            counts[i] += 1
            ready = ledger.ready.get(s.raw)
            if ready is not None:
                lat.append((now - ready) / 1e6)
                to_slot.append((s.t_ns - ready) / 1e6)
            else:
                garbage += 1  # no conversion made this value: read from a resetting chip
            if oldest is not None:
                o = oldest(i)
                if o is not None and o in ledger.ready:
                    lat_oldest.append((now - ledger.ready[o]) / 1e6)
    wall = (time.monotonic_ns() - t0) / 1e9
    rates = [c / wall for c in counts]
    out: dict[str, Any] = {
        "samples_per_s_per_chip_mean": round(sum(rates) / n, 1),
        "samples_per_s_per_chip_min": round(min(rates), 1),
        "latency_ms_p50": pct(lat, 0.50), "latency_ms_p99": pct(lat, 0.99),
        "latency_ms_max": round(max(lat), 3) if lat else None,
        "ready_to_slot_ms_p50": pct(to_slot, 0.50), "ready_to_slot_ms_p99": pct(to_slot, 0.99),
        "cpu_pct_of_one_core": round(100 * (time.process_time() - cpu0) / wall, 1),
        "garbage_values_used": garbage,
    }
    if oldest is not None:
        out["latency_oldest_reading_ms_p50"] = pct(lat_oldest, 0.50)
        out["latency_oldest_reading_ms_p99"] = pct(lat_oldest, 0.99)
    return out


def run_rigctl(cfg: Config, seconds: float) -> dict[str, Any]:
    from rigctl.backends.hx711 import HX711Source
    from rigctl.emulators.hx711_gpio import HX711Chip, install_fake_gpio

    board = install_fake_gpio()
    ledger = Ledger()
    chips = []
    for i, m in enumerate(cfg.mounts.values()):
        assert m.dout_pin is not None and m.sck_pin is not None
        chips.append(board.attach(HX711Chip(cfg.sampling.sps, value_fn=ledger.value_fn(i)),
                                  m.dout_pin, m.sck_pin))
    src = HX711Source(cfg)
    src.start()
    try:
        time.sleep(0.3)  # settling after start
        fig = watch(src.slots, ledger, seconds)
    finally:
        src.stop()
    fig["timing_violations"] = sum(c.get("timing", 0) for c in src.counters().values())
    fig["chip_protocol_errors"] = sum(c.protocol_errors for c in chips)
    return fig


def run_package(cfg: Config, seconds: float, times: int) -> dict[str, Any]:
    from rigctl.emulators.hx711_gpio import HX711Chip, install_fake_gpio

    board = install_fake_gpio()
    import hx711

    ledger = Ledger()
    slots = [LatestSlot() for _ in cfg.mounts]
    batches: list[list[int]] = [[] for _ in cfg.mounts]
    calls = [0] * len(slots)
    stop = threading.Event()
    ready = threading.Barrier(len(slots) + 1)
    errors: list[BaseException] = []

    def sampler(i: int, dout: int, sck: int) -> None:
        try:
            hx = hx711.HX711(dout_pin=dout, pd_sck_pin=sck, gain=128, channel="A")
            hx.reset()
        except BaseException as e:  # reported after the run
            errors.append(e)
            ready.abort()
            return
        ready.wait()
        while not stop.is_set():
            vals = hx.get_raw_data(times=times)
            calls[i] += 1
            batches[i] = vals
            slots[i].publish(time.monotonic_ns(), vals[-1])

    threads = []
    for i, m in enumerate(cfg.mounts.values()):
        assert m.dout_pin is not None and m.sck_pin is not None
        board.attach(HX711Chip(cfg.sampling.sps, value_fn=ledger.value_fn(i)),
                     m.dout_pin, m.sck_pin)
        t = threading.Thread(target=sampler, args=(i, m.dout_pin, m.sck_pin), daemon=True)
        t.start()
        threads.append(t)
    try:
        ready.wait(timeout=30)
    except threading.BrokenBarrierError:
        raise RuntimeError(f"the hx711 package failed to start: {errors[:1]}") from None
    time.sleep(0.3)
    calls0 = list(calls)
    t0 = time.monotonic()
    fig = watch(slots, ledger, seconds, oldest=lambda i: batches[i][0] if batches[i] else None)
    wall = time.monotonic() - t0
    stop.set()
    for t in threads:
        t.join(2.0)
    fig["readings_per_s_per_chip_mean"] = round(
        sum(c - c0 for c, c0 in zip(calls, calls0, strict=True)) * times / wall / len(slots), 1)
    fig["times"] = times
    return fig


def main(args: argparse.Namespace) -> int:
    cfg = bench_config(args.chips, args.sps)

    def progress(msg: str) -> None:
        print(f"bench-hx711: {msg}", file=sys.stderr, flush=True)

    progress(f"rigctl hx711 backend, {args.chips} emulated chips at {args.sps:g} SPS, "
             f"{args.seconds:g} s")
    ours = run_rigctl(cfg, args.seconds)
    progress(f"hx711 package get_raw_data(times={args.times}), same chips, {args.seconds:g} s")
    theirs = run_package(cfg, args.seconds, args.times)
    ratio: dict[str, float | None] = {
        "samples_per_s": round(ours["samples_per_s_per_chip_mean"]
                               / theirs["samples_per_s_per_chip_mean"], 2)
        if theirs["samples_per_s_per_chip_mean"] else None,
        "latency_p50_package_over_rigctl": round(theirs["latency_ms_p50"]
                                                 / ours["latency_ms_p50"], 1)
        if ours["latency_ms_p50"] and theirs["latency_ms_p50"] else None,
    }
    fig = {"chips": args.chips, "sps": args.sps, "seconds": args.seconds,
           "rigctl": ours, "package_get_raw_data": theirs, "ratio": ratio}
    if args.json:
        print(json.dumps(fig))
        return 0
    print(f"{'':34} {'rigctl':>10} {'package':>10}")
    for key in ("samples_per_s_per_chip_mean", "samples_per_s_per_chip_min",
                "latency_ms_p50", "latency_ms_p99", "latency_ms_max", "ready_to_slot_ms_p50",
                "ready_to_slot_ms_p99", "cpu_pct_of_one_core", "garbage_values_used"):
        print(f"{key:34} {ours[key]!s:>10} {theirs[key]!s:>10}")
    print(f"{'latency_oldest_reading_ms_p50':34} {'':>10} "
          f"{theirs['latency_oldest_reading_ms_p50']!s:>10}")
    print(f"{'package readings_per_s_per_chip':34} {'':>10} "
          f"{theirs['readings_per_s_per_chip_mean']!s:>10}")
    print(f"rigctl timing violations: {ours['timing_violations']}, "
          f"chip protocol errors: {ours['chip_protocol_errors']}")
    print(f"ratio samples/s rigctl/package: {ratio['samples_per_s']}, "
          f"latency p50 package/rigctl: {ratio['latency_p50_package_over_rigctl']}")
    return 0
