"""``rigctl diagnose``: is every amplifier and haptic driver wired and healthy?

For installers, on the Pi, with the core service stopped (it owns the pins):
runs the configured backend alone for ``--seconds`` and reports per mount the
samples per second against the configured rate, faults by kind, the number of
distinct raw values, noise in kg rms and the mean load; per DRV2605L the chip
ID. Anything wrong becomes one plain sentence naming the part and what to check,
and the exit status is 1 (0 when all is well, 2 for a config error).

``--emulate`` runs the same code against the protocol emulators (no hardware),
to try the command or rehearse a fault (``--emulate-disconnect MOUNT``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rigctl.config import Config, MountSection, load_config
from rigctl.sampling.slots import SampleSource, SampleStatus


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("diagnose", help="check amplifiers and haptic drivers (installers)")
    p.add_argument("--config", type=Path, default=None,
                   help="config file (default: config/sim.toml)")
    p.add_argument("--seconds", type=float, default=5.0,
                   help="how long to sample (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--emulate", action="store_true",
                   help="use emulated chips instead of hardware (no Pi needed)")
    p.add_argument("--emulate-disconnect", action="append", default=[], metavar="MOUNT",
                   help="with --emulate: this mount's amplifier does not answer")
    p.set_defaults(func=main)


@dataclass
class MountReport:
    name: str
    configured_sps: float
    seconds: float
    good: int = 0
    raws: list[int] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    driver: dict[str, int] = field(default_factory=dict)
    longest_silence_s: float = 0.0

    def as_dict(self, scale: float, offset: float) -> dict[str, Any]:
        return {
            "mount": self.name,
            "samples_per_s": round(self.sps, 1),
            "configured_sps": self.configured_sps,
            "faults": self.faults,
            "unique_raw_values": len(set(self.raws)),
            "noise_kg_rms": round(self.noise_kg(scale), 4) if len(self.raws) > 1 else None,
            "mean_kg": round((statistics.fmean(self.raws) - offset) / scale, 2)
            if self.raws else None,
            "longest_silence_s": round(self.longest_silence_s, 3),
        }

    @property
    def sps(self) -> float:
        return self.good / self.seconds if self.seconds > 0 else 0.0

    @property
    def faults(self) -> dict[str, int]:
        out = {k: v for k, v in self.driver.items() if v and k != "good"}
        for k, v in self.statuses.items():
            out.setdefault(k, v)
        return out

    def noise_kg(self, scale: float) -> float:
        return statistics.pstdev(self.raws) / abs(scale) if len(self.raws) > 1 else 0.0


def measure(source: SampleSource, cfg: Config, seconds: float,
            poll_s: float = 0.005) -> list[MountReport]:
    """Poll a started source like the loop does and collect what each mount delivered."""
    names = source.mount_names
    reports = [MountReport(n, cfg.sampling.sps, seconds) for n in names]
    before = source.counters()
    last_seq = [s.seq if s is not None else 0 for s in source.poll(time.monotonic_ns())]
    start = time.monotonic_ns()
    last_good = [start] * len(names)
    end = start + int(seconds * 1e9)
    now = start
    while now < end:
        time.sleep(poll_s)
        now = time.monotonic_ns()
        for i, s in enumerate(source.poll(now)):
            if s is None or s.seq == last_seq[i]:
                continue
            last_seq[i] = s.seq
            r = reports[i]
            if s.status is SampleStatus.OK:
                r.good += 1
                r.raws.append(s.raw)
                gap = (now - last_good[i]) / 1e9
                r.longest_silence_s = max(r.longest_silence_s, gap)
                last_good[i] = now
            else:
                kind = s.status.name.lower()
                r.statuses[kind] = r.statuses.get(kind, 0) + 1
    after = source.counters()
    for i, r in enumerate(reports):
        r.longest_silence_s = max(r.longest_silence_s, (now - last_good[i]) / 1e9)
        b, a = before.get(r.name, {}), after.get(r.name, {})
        r.driver = {k: a[k] - b.get(k, 0) for k in a if a[k] - b.get(k, 0)}
        r.seconds = (now - start) / 1e9
    return reports


def _wiring_hint(cfg: Config, m: MountSection) -> str:
    if cfg.rig.backend == "hx711":
        return f"check DOUT wiring on GPIO {m.dout_pin} and PD_SCK on GPIO {m.sck_pin}"
    if cfg.rig.backend == "iio":
        return f"check the IIO device '{m.iio_device}' (dmesg | grep -i hx711)"
    return "check the sim scenario"


def assess(reports: list[MountReport], cfg: Config) -> list[str]:
    """Plain sentences for everything wrong, one per problem (empty: all well)."""
    problems: list[str] = []
    for r in reports:
        m = cfg.mounts[r.name]
        hint = _wiring_hint(cfg, m)
        faults = r.faults
        if r.good == 0:
            problems.append(f"{r.name}: no data for {r.seconds:.1f} s - {hint}")
            continue
        if r.longest_silence_s >= 1.0:
            problems.append(f"{r.name}: no data for {r.longest_silence_s:.1f} s at a time "
                            f"- a loose connection? {hint}")
        expected = r.configured_sps
        if r.sps < 0.9 * expected:
            if expected >= 40 and r.sps < 15:
                problems.append(f"{r.name}: {r.sps:.1f} samples/s, configured {expected:g} - "
                                "is the HX711 board's RATE pin tied high (80 SPS)?")
            else:
                problems.append(
                    f"{r.name}: {r.sps:.1f} samples/s, configured {expected:g} "
                    f"({faults.get('timing', 0)} timing violations) - the Pi may be "
                    "overloaded; the iio backend clocks the chip in the kernel")
        if faults.get("saturated"):
            problems.append(f"{r.name}: {faults['saturated']} saturated readings - load beyond "
                            "the amplifier's range or a loose cell wire (E+, E-, A+, A-)")
        if faults.get("read_error") or faults.get("error"):
            n = faults.get("read_error", faults.get("error", 0))
            problems.append(f"{r.name}: {n} failed reads - DOUT shorted or floating? {hint}")
        if r.good >= 10 and len(set(r.raws)) == 1:
            problems.append(f"{r.name}: every reading is {r.raws[0]} - a stuck amplifier or "
                            "a shorted input")
        noise = r.noise_kg(m.scale)
        if noise > 0.5:
            problems.append(f"{r.name}: noise {noise:.2f} kg rms - check the cell cable "
                            "shield, ground and E+/E- supply")
        if faults.get("timing", 0) > 0.05 * max(r.good, 1):
            problems.append(f"{r.name}: {faults['timing']} PD_SCK timing violations in "
                            f"{r.seconds:.1f} s - the Pi is overloaded or runs without "
                            "SCHED_FIFO; consider the iio backend")
    return problems


def check_haptics(cfg: Config, opener: Callable[[int], Any] | None,
                  dev_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Chip ID of each configured DRV2605L."""
    if cfg.outputs.haptic != "drv2605":
        return [], []
    from rigctl.outputs.drv2605 import ROM_CHIPS, Drv2605, open_buses, smbus2_opener

    handles = open_buses(cfg.haptics, opener or smbus2_opener, dev_dir)
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        for grip, h in cfg.haptics.items():
            dev = Drv2605(handles[h.bus], h)
            try:
                chip_id = dev.probe()
            except OSError as e:
                rows.append({"grip": grip, "where": dev.where, "chip_id": None,
                             "error": str(e)})
                problems.append(f"{grip}: no answer from the DRV2605L at {dev.where} "
                                f"({e.strerror or e}) - check SDA/SCL wiring, 3.3 V and "
                                "the mux channel")
                continue
            from rigctl.outputs.drv2605 import DEVICE_IDS

            name = DEVICE_IDS.get(chip_id, "unknown")
            rows.append({"grip": grip, "where": dev.where, "chip_id": chip_id, "chip": name})
            if chip_id not in ROM_CHIPS:
                problems.append(f"{grip}: chip id {chip_id} ({name}) at {dev.where} - a "
                                "DRV2605L (id 7) with the ROM effect library is needed")
    finally:
        for hd in handles.values():
            hd.bus.close()
    return rows, problems


class Emulation:
    """The emulated hardware for ``--emulate``: chips per mount, DRV2605Ls per grip."""

    def __init__(self, cfg: Config, disconnect: list[str]) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="rigctl-emulate-")
        tmp = Path(self._tmp.name)
        self.dev_dir = tmp / "dev"
        self.dev_dir.mkdir()
        self.iio_root = tmp / "iio"
        self.iio_tree: Any = None
        rng = random.Random(7)
        for name in disconnect:
            if name not in cfg.mounts:
                from rigctl.cli import UserError

                raise UserError(f"--emulate-disconnect: no mount '{name}' "
                                f"(mounts: {', '.join(cfg.mounts)})")

        def load(m: MountSection) -> Callable[[int], int]:
            # bars hanging empty: 5 kg of bar on each mount, 10 g rms of noise
            def counts(_t_ns: int) -> int:
                return round(m.offset + m.scale * (5.0 + rng.gauss(0.0, 0.01)))
            return counts

        def per_conversion(fn: Callable[[int], int]) -> Callable[[int, int], int]:
            return lambda _k, t_ns: fn(t_ns)

        if cfg.rig.backend == "hx711":
            from rigctl.emulators.hx711_gpio import HX711Chip, install_fake_gpio

            board = install_fake_gpio()
            for name, m in cfg.mounts.items():
                assert m.dout_pin is not None and m.sck_pin is not None
                chip = HX711Chip(cfg.sampling.sps, value_fn=per_conversion(load(m)))
                chip.disconnected = name in disconnect
                board.attach(chip, m.dout_pin, m.sck_pin)
        elif cfg.rig.backend == "iio":
            from rigctl.emulators.iio_sysfs import FakeIioTree

            self.iio_tree = FakeIioTree(self.iio_root, cfg.sampling.sps)
            for m in cfg.mounts.values():
                self.iio_tree.add(m.iio_device, load(m))
            self.iio_tree.start()
            for name in disconnect:
                self.iio_tree.disconnect(cfg.mounts[name].iio_device)
        from rigctl.emulators.drv2605_smbus import FakeDrv2605, FakeI2C

        self.i2c = FakeI2C()
        for h in cfg.haptics.values():
            bus = self.i2c.bus(h.bus)
            (self.dev_dir / f"i2c-{h.bus}").touch()
            if h.mux_address is not None and h.mux_channel is not None:
                mux = bus.muxes.get(h.mux_address) or bus.add_mux(h.mux_address)
                mux.attach(h.mux_channel, h.address, FakeDrv2605())
            else:
                bus.attach(h.address, FakeDrv2605())

    def close(self) -> None:
        if self.iio_tree is not None:
            self.iio_tree.stop()
        from rigctl.emulators.hx711_gpio import uninstall_fake_gpio

        uninstall_fake_gpio()
        self._tmp.cleanup()


def build_diag_source(cfg: Config, iio_root: Path | None = None) -> SampleSource:
    if cfg.rig.backend == "iio" and iio_root is not None:
        from rigctl.backends.iio import IioSource

        return IioSource(cfg, iio_root)
    from rigctl.backends import build_source

    return build_source(cfg)


def run_diagnose(cfg: Config, seconds: float, source: SampleSource,
                 opener: Callable[[int], Any] | None = None,
                 dev_dir: Path = Path("/dev")) -> dict[str, Any]:
    """Measure the mounts and probe the haptics; the report as a dict."""
    haptics, hproblems = check_haptics(cfg, opener, dev_dir)
    source.start()
    try:
        time.sleep(0.1)  # past the amplifiers' settling time after start
        reports = measure(source, cfg, seconds)
    finally:
        source.stop()
    problems = assess(reports, cfg) + hproblems
    return {
        "rig": cfg.rig.name, "backend": cfg.rig.backend, "seconds": seconds,
        "mounts": [r.as_dict(cfg.mounts[r.name].scale, cfg.mounts[r.name].offset)
                   for r in reports],
        "haptics": haptics, "problems": problems,
    }


def format_report(rep: dict[str, Any]) -> str:
    lines = [f"rigctl diagnose: {rep['rig']} ({rep['backend']} backend), "
             f"{rep['seconds']:g} s of samples"]
    lines.append(f"{'mount':<14} {'samples/s':>9} {'of':>4} {'unique':>7} {'noise kg':>9} "
                 f"{'mean kg':>8}  faults")
    for m in rep["mounts"]:
        noise = "-" if m["noise_kg_rms"] is None else f"{m['noise_kg_rms']:.3f}"
        mean = "-" if m["mean_kg"] is None else f"{m['mean_kg']:.2f}"
        faults = ", ".join(f"{k} {v}" for k, v in sorted(m["faults"].items())) or "none"
        lines.append(f"{m['mount']:<14} {m['samples_per_s']:>9.1f} {m['configured_sps']:>4g} "
                     f"{m['unique_raw_values']:>7} {noise:>9} {mean:>8}  {faults}")
    for h in rep["haptics"]:
        if h.get("chip_id") is None:
            lines.append(f"haptic {h['grip']}: no answer at {h['where']}")
        else:
            lines.append(f"haptic {h['grip']}: {h['chip']} (chip id {h['chip_id']}) "
                         f"at {h['where']}")
    if rep["problems"]:
        lines.append("PROBLEMS:")
        lines += [f"  {p}" for p in rep["problems"]]
    else:
        lines.append("all checks passed")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.emulate_disconnect and not args.emulate:
        from rigctl.cli import UserError

        raise UserError("--emulate-disconnect needs --emulate")
    emu = Emulation(cfg, args.emulate_disconnect) if args.emulate else None
    try:
        opener = emu.i2c.open if emu is not None else None
        dev_dir = emu.dev_dir if emu is not None else Path("/dev")
        source = build_diag_source(cfg, emu.iio_root if emu is not None else None)
        if cfg.rig.backend == "sim":
            from rigctl.backends.sim import SimRig

            if isinstance(source, SimRig):
                source.hold([5.0] * len(cfg.mounts))
        rep = run_diagnose(cfg, args.seconds, source, opener, dev_dir)
    finally:
        if emu is not None:
            emu.close()
    if args.json:
        print(json.dumps(rep))
    else:
        print(format_report(rep))
    return 1 if rep["problems"] else 0
