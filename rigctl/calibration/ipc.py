"""The core's socket operations for calibration and weigh-in (``rigctl.ipc.server``).

Each request names its arguments; a bad one is refused naming the field and
the allowed range. A refused procedure answers ``conflict`` with the
installer-facing reason; the captures that take seconds are registered as
slow, so they run in their own thread and never hold up other requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from rigctl.calibration.fit import MIN_KNOWN_KG, CalibrationRefused
from rigctl.calibration.procedures import CalibrationBusy, Calibrator
from rigctl.calibration.report import build_report, render_html
from rigctl.calibration.store import CalibrationFileError
from rigctl.ipc.protocol import IpcError, number_arg

Handler = Callable[[dict[str, Any]], Any]


class Registry(Protocol):
    """Where handlers go: the core's ``IpcServer``, or a standalone rig's table."""

    def register(self, op: str, fn: Handler, slow: bool = False) -> None: ...

#: every op this module answers, and whether it may take seconds
OPS: dict[str, bool] = {
    "calibration.status": False,
    "calibration.history": False,
    "calibration.live": False,
    "calibration.preview": False,
    "calibration.discard": False,
    "calibration.report": False,
    "calibration.tare": True,
    "calibration.point": True,
    "calibration.bar_point": True,
    "calibration.commit": True,
    "calibration.verify": True,
    "calibration.retare": True,
    "weigh_in": True,
}


def _kg(args: dict[str, Any], key: str, lo: float = MIN_KNOWN_KG, hi: float = 2000.0) -> float:
    return number_arg(args, key, lo, hi, unit="kg")


def _text(args: dict[str, Any], key: str, required: bool = True) -> str | None:
    v = args.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not v.strip():
        raise IpcError("bad_request", f"{key}: a non-empty string is required", key)
    return v


def _wrap(fn: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    def run(args: dict[str, Any]) -> Any:
        try:
            return fn(args)
        except CalibrationBusy as e:
            raise IpcError("conflict", str(e)) from None
        except CalibrationRefused as e:
            msg = str(e)
            if len(e.problems) > 1:
                msg = msg.split(": ", 1)[0] + ": " + "; ".join(e.problems)
            raise IpcError("conflict", msg) from None
        except CalibrationFileError as e:
            raise IpcError("internal", str(e)) from None
    return run


def register(server: Registry, cal: Calibrator) -> None:
    """Add the calibration and weigh-in operations to the core's socket server."""

    def mount_of(a: dict[str, Any], key: str = "mount", required: bool = True) -> str | None:
        name = _text(a, key, required)
        if name is not None and name not in cal.cfg.mounts:
            raise IpcError("not_found", f"{key}: unknown mount '{name}'; the rig has "
                           f"{', '.join(cal.cfg.mount_names)}", key)
        return name

    def mount_kg(a: dict[str, Any], mount: str | None) -> float:
        cap = (cal.cfg.mounts[mount].capacity_kg if mount is not None
               else sum(m.capacity_kg for m in cal.cfg.mounts.values()))
        return _kg(a, "known_kg", MIN_KNOWN_KG, cap)

    def point(a: dict[str, Any]) -> Any:
        mount = mount_of(a)
        assert mount is not None
        return cal.add_point(mount, mount_kg(a, mount))

    def bar_point(a: dict[str, Any]) -> Any:
        bar = _text(a, "bar")
        bars = sorted({m.bar for m in cal.cfg.mounts.values()})
        if bar not in bars:
            raise IpcError("not_found", f"bar: unknown bar '{bar}'; the rig has bars "
                           f"{', '.join(bars)}", "bar")
        assert bar is not None
        pos = a.get("position", 0.5)
        if isinstance(pos, bool) or not isinstance(pos, int | float) or not 0 <= pos <= 1:
            raise IpcError("bad_request", "position: a fraction 0..1 of the bar's length from "
                           "its first mount is required", "position")
        return cal.add_bar_point(bar, _kg(a, "known_kg"), float(pos))

    def commit(a: dict[str, Any]) -> Any:
        name = _text(a, "installer")
        assert name is not None
        if len(name.strip()) > 80:
            raise IpcError("bad_request", "installer: 1-80 characters", "installer")
        return cal.commit(name)

    def verify(a: dict[str, Any]) -> Any:
        mount = mount_of(a, required=False)
        return cal.verify(mount_kg(a, mount), mount)

    def report(a: dict[str, Any]) -> Any:
        version = a.get("version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise IpcError("bad_request", "version: an integer >= 1", "version")
        try:
            rep = build_report(cal.store.load(), cal.core.config, version)
        except LookupError as e:
            raise IpcError("not_found", str(e.args[0])) from None
        return {"report": rep, "html": render_html(rep)} if a.get("html") else rep

    def discard(a: dict[str, Any]) -> Any:
        cal.discard()
        return {"discarded": True}

    handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
        "calibration.status": lambda a: cal.status(),
        "calibration.history": lambda a: cal.history(),
        "calibration.live": lambda a: cal.live(),
        "calibration.preview": lambda a: cal.preview(),
        "calibration.discard": discard,
        "calibration.report": report,
        "calibration.tare": lambda a: cal.tare(),
        "calibration.point": point,
        "calibration.bar_point": bar_point,
        "calibration.commit": commit,
        "calibration.verify": verify,
        "calibration.retare": lambda a: cal.retare(),
        "weigh_in": lambda a: cal.weigh_in(),
    }
    for op, slow in OPS.items():
        server.register(op, _wrap(handlers[op]), slow=slow)
