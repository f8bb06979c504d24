"""``rigctl core``: the process that owns the rig: sampling, the 200 Hz loop, outputs,
the active session, and the unix socket the API talks to.

It keeps warning with the session's limit whatever happens to the API, and on
start resumes the session recorded in the state directory.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from pathlib import Path

from rigctl.backends import build_pin_factory, build_source
from rigctl.backends.scenario import load_scenario
from rigctl.backends.sim import SimRig
from rigctl.config import load_config
from rigctl.core.runtime import Core
from rigctl.outputs.factory import build_outputs
from rigctl.service.signals import StopSignals

log = logging.getLogger(__name__)
DEFAULT_STATE_DIR = Path("state")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("core", help="run the core process (hardware, loop, active session)")
    p.add_argument("--config", type=Path, default=None,
                   help="config file (default: config/sim.toml)")
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                   help="state directory: socket, active session, traces (default: ./state)")
    p.add_argument("--no-scenario", action="store_true",
                   help="sim backend: start with the rig empty instead of sim.scenario")
    p.set_defaults(func=main)


def build_core(config: Path | None, state_dir: Path | None = None) -> Core:
    """The rig's core, carrying the calibration from ``state_dir`` (else factory/config)."""
    from rigctl.calibration.startup import build_controller

    cfg = load_config(config)
    controller, _applied = build_controller(cfg, state_dir)
    source = build_source(cfg)
    outputs = build_outputs(cfg, build_pin_factory(cfg))
    return Core(cfg, source, outputs, controller=controller)


def main(args: argparse.Namespace) -> int:
    from rigctl.calibration import ipc as calibration_ipc
    from rigctl.calibration.procedures import Calibrator
    from rigctl.calibration.store import CalibrationFileError
    from rigctl.cli import UserError
    from rigctl.comfort.core_ops import ComfortOps
    from rigctl.inputs import attach_inputs
    from rigctl.ipc.server import CoreAlreadyRunning
    from rigctl.ipc.service import CoreService
    from rigctl.service.supervision import CoreOps

    try:
        core = build_core(args.config, args.state_dir)
    except CalibrationFileError as e:
        raise UserError(str(e), 2) from None
    cfg = core.config
    try:  # the client's comfort button: a mock pin on the sim rig (sim.comfort_button)
        buttons = attach_inputs(cfg, core, build_pin_factory(cfg))
    except Exception as e:  # gpiozero: pin in use, no pin library; never run without it
        raise UserError(f"inputs.comfort_pin: cannot use GPIO {cfg.inputs.comfort_pin} for "
                        f"the comfort button: {e}", 2) from None
    service = CoreService(core, args.state_dir)
    calibration_ipc.register(service.server, Calibrator(core, args.state_dir))
    ComfortOps(service, buttons)
    ops = CoreOps(core, service.server)  # sd_notify + watchdog, metrics, MQTT
    service.load_rig_file()
    if isinstance(core.source, SimRig) and not args.no_scenario:
        scenario = load_scenario(cfg.sim.scenario, cfg.mount_names)
        core.source.play(scenario, time.monotonic_ns(), loop=cfg.sim.loop_scenario)
    stop = StopSignals().install()  # SIGTERM, SIGINT: a handler that takes no lock
    core.start()
    try:
        if not core.loop.first_tick.wait(5):
            raise UserError("the control loop did not start", 1)
        try:
            restored = service.restore_session()
        except ValueError as e:
            raise UserError(f"{e}; move the file away to start without that session", 1) from None
        try:
            service.start()
        except CoreAlreadyRunning as e:
            raise UserError(str(e), 1) from None
        ops.start()
        print(f"rigctl core: {cfg.rig.name} on the {cfg.rig.backend} backend, "
              f"{len(cfg.mounts)} mounts, loop {cfg.loop.rate_hz} Hz, socket "
              f"{service.server.path}" + (f", resumed session {restored.session_id} "
                                          f"(limit {restored.limit_kg:g} kg)"
                                          if restored else ""), flush=True)
        stop.wait()
    finally:
        # each step bounded; none of them may keep core.stop() (outputs off) from running
        try:
            _each("stopping", [("telemetry and watchdog", ops.stop),
                               *(("comfort button", b.close) for b in buttons),
                               ("socket and trace", service.stop)])
        finally:
            core.stop()
        st = core.loop.stats()
        print(f"rigctl core: stopped, outputs off. {st['ticks']} ticks, {st['overruns']} "
              f"overruns, period error p99 {st['period_error_p99_us']} us", flush=True)
    return 0


def _each(what: str, steps: list[tuple[str, Callable[[], object]]]) -> None:
    """Run every step; a failing one is logged and the next still runs."""
    for name, fn in steps:
        try:
            fn()
        except Exception:
            log.exception("%s %s failed", what, name)
