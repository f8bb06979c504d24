"""Which calibration the core starts with: committed > factory file > config defaults.

Used by every place that builds a controller for a rig (``rigctl core``,
``rigctl run``, ``rigctl calibrate --standalone``, the bench), so they all
weigh the same way. A damaged committed calibration stops start-up
(``CalibrationFileError``): running on defaults would give wrong loads and
therefore wrong warnings, silently.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from rigctl.calibration.store import Applied, CalibrationFileError, read_file, resolve
from rigctl.config import Config
from rigctl.core.controller import Controller

log = logging.getLogger(__name__)


def factory_path(spec: str) -> Path:
    """A built-in factory calibration by name (``sim``: the sim rig's), or a file path."""
    if "/" in spec or spec.endswith(".json"):
        return Path(spec)
    return Path(str(resources.files("rigctl.calibration").joinpath(f"factory/{spec}.json")))


def config_defaults(cfg: Config) -> dict[str, tuple[float, float]]:
    return {name: (m.offset, m.scale) for name, m in cfg.mounts.items()}


def load_startup(cfg: Config, state_dir: Path | None) -> Applied:
    """The calibration to use at start (raises ``CalibrationFileError`` on a damaged file)."""
    defaults = config_defaults(cfg)
    names = cfg.mount_names
    if state_dir is not None:
        cal = read_file(Path(state_dir) / "calibration.json")
        if cal is not None and cal.current is not None:
            return resolve(names, defaults, cal, "state")
    factory = cfg.calibration.factory_file
    if factory:
        path = factory_path(factory)
        try:
            fcal = read_file(path)
        except CalibrationFileError as e:
            raise CalibrationFileError(f"calibration.factory_file: {e}") from None
        if fcal is None:
            raise CalibrationFileError(f"calibration.factory_file: {factory}: no such file")
        return resolve(names, defaults, fcal, "factory")
    return resolve(names, defaults, None, "config")


def build_controller(cfg: Config, state_dir: Path | None) -> tuple[Controller, Applied]:
    """A controller already carrying the start-up calibration (first tick included)."""
    applied = load_startup(cfg, state_dir)
    ctl = Controller(cfg, applied.offsets, applied.scales)
    ctl.estimator.set_calibration(applied.offsets, applied.scales, applied.reference)
    if applied.uncalibrated:
        log.warning("calibration: %s", applied.describe())
    else:
        log.info("calibration: %s", applied.describe())
    return ctl, applied
