"""What runs beside the loop in ``rigctl core`` for operations.

systemd readiness and the watchdog (``rigctl.service.notify``), the ``metrics``
socket request that the API's ``/metrics`` renders (``rigctl.telemetry.metrics``)
and MQTT telemetry when ``[mqtt] enabled`` (``rigctl.telemetry.mqtt``). All of
it runs in threads of its own; none of it is called from the loop thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from rigctl.core.runtime import Core
from rigctl.service.notify import ServiceNotifier
from rigctl.telemetry.metrics import CoreMetrics
from rigctl.telemetry.mqtt import MqttTelemetry, start_telemetry

log = logging.getLogger(__name__)


class Registry(Protocol):
    """The part of ``rigctl.ipc.server.IpcServer`` used here."""

    def register(self, op: str, fn: Any) -> None: ...


def status_line(core: Core) -> str:
    """One line for ``systemctl status`` (plain attribute reads: cheap, any thread)."""
    ctl = core.controller
    session = ctl.session
    text = f"state {ctl.state.value}"
    if session is not None and ctl.limit_kg is not None:
        text += f", session {session.session_id or '-'} (limit {ctl.limit_kg:g} kg)"
    loop = core.loop
    return text + f", {loop.ticks} ticks, {loop.overruns} overruns"


class CoreOps:
    def __init__(self, core: Core, server: Registry,
                 environ: Mapping[str, str] | None = None) -> None:
        self.core = core
        self.metrics = CoreMetrics(core)
        server.register("metrics", lambda args: self.metrics.snapshot())
        self.notifier = ServiceNotifier.from_env(core.loop, status=lambda: status_line(core),
                                                 environ=environ)
        self.telemetry: MqttTelemetry | None = None
        self._started = False

    def start(self) -> None:
        """Call once the loop runs and the socket listens: READY=1 follows the first good tick."""
        self.telemetry = start_telemetry(self.core)
        self.notifier.start()
        self._started = True

    def stop(self) -> None:
        if self._started:
            self.notifier.stop()
        if self.telemetry is not None:
            try:
                self.telemetry.stop()
            except Exception:
                log.exception("mqtt: stopping telemetry failed")
            self.telemetry = None
