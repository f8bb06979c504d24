"""``rigctl run``: the whole system on the simulated rig (or the configured one)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from rigctl.backends import build_pin_factory, build_source
from rigctl.backends.scenario import load_scenario
from rigctl.backends.sim import SimRig
from rigctl.config import load_config
from rigctl.core.controller import Transition
from rigctl.core.runtime import Core
from rigctl.outputs.factory import build_outputs


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the controller (sim rig and demo by default)")
    p.add_argument("--config", type=Path, default=None,
                   help="config file (default: config/sim.toml)")
    p.add_argument("--state-dir", type=Path, default=Path("state"),
                   help="state directory (default: ./state)")
    p.add_argument("--seconds", type=float, default=None,
                   help="stop after this many seconds (default: until Ctrl-C)")
    p.set_defaults(func=main)


def build_core(config: Path | None) -> Core:
    cfg = load_config(config)
    source = build_source(cfg)
    outputs = build_outputs(cfg, build_pin_factory(cfg))
    return Core(cfg, source, outputs)


def main(args: argparse.Namespace) -> int:
    core = build_core(args.config)
    cfg = core.config
    args.state_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(core.source, SimRig):
        scenario = load_scenario(cfg.sim.scenario, cfg.mount_names)
        core.source.play(scenario, time.monotonic_ns(), loop=cfg.sim.loop_scenario)
    t0 = time.monotonic_ns()

    def show(tr: Transition) -> None:
        print(f"{(tr.t_ns - t0) / 1e9:8.3f} s  {tr.state.value:<8}  foot load "
              f"{tr.foot_kg:6.1f} kg", flush=True)

    core.on_transition(show)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"rigctl: {cfg.rig.name} on the {cfg.rig.backend} backend, "
          f"{len(cfg.mounts)} mounts, loop {cfg.loop.rate_hz} Hz. Ctrl-C stops.", flush=True)
    core.start()
    try:
        if not core.loop.first_tick.wait(5):
            print("rigctl: the control loop did not start", file=sys.stderr)
            return 1
        if cfg.demo.start_session:
            core.start_session(cfg.demo.limit_kg, cfg.demo.therapist_kg, "demo")
            print(f"rigctl: demo session: limit {cfg.demo.limit_kg:g} kg, therapist "
                  f"{cfg.demo.therapist_kg:g} kg", flush=True)
        stop.wait(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        core.stop()
        st = core.loop.stats()
        print(f"rigctl: stopped, outputs off. {st['ticks']} ticks, {st['overruns']} overruns, "
              f"period error p99 {st['period_error_p99_us']} us", flush=True)
    return 0
