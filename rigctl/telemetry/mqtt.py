"""Fleet telemetry over MQTT with Home Assistant discovery (``[mqtt]``, off by default).

Topics, under ``<topic_prefix>/<rig id>/``:

- ``availability``  ``online`` / ``offline`` (retained; the broker's last will says offline)
- ``state``         the warning state, plain text (retained), published at once on a transition
- ``transition``    ``{"state", "foot_load_kg", "t_s"}`` per transition (not retained)
- ``loads``         ``{"foot_load_kg", "bar_load_kg"}`` at most every ``load_interval_ms``
- ``session``       ``{"limit_kg", "therapist_weight_kg", "session_id", "active"}`` (retained)
- ``faults``        ``{"active", "mounts", "output_faults", "loop_fault"}`` (retained)

and discovery configs under ``<discovery_prefix>/<component>/<rig id>/<key>/config``
(retained), so Home Assistant shows each rig as a device with no YAML.

It never blocks or slows the control loop: the loop thread is not involved at
all. Transitions reach a deque through ``Core.on_transition`` (an append and
an event set, in the core's event thread); this module's own thread reads the
loop's results (plain attribute reads) and hands messages to paho, whose own
network thread (``loop_start``) does the socket I/O and the reconnecting.
While the broker is away nothing is queued: a reconnect republishes everything.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from rigctl import __version__
from rigctl.config import MqttSection
from rigctl.core.warning import State

if TYPE_CHECKING:
    from rigctl.core.controller import Transition
    from rigctl.core.runtime import Core

log = logging.getLogger(__name__)

#: re-send unchanged loads this often, so a dashboard sees the rig is alive
LOAD_HEARTBEAT_S = 30.0


@dataclass(frozen=True)
class Snapshot:
    """What the telemetry reports, read from the core at one instant."""

    state: str
    foot_load_kg: float
    bar_load_kg: float
    limit_kg: float | None
    therapist_weight_kg: float | None
    session_id: str | None
    mount_faults: dict[str, str | None]
    output_faults: int
    loop_fault: bool


def core_snapshot(core: Core) -> Snapshot:
    """Plain attribute reads (no locks, no percentiles): cheap enough for any thread."""
    ctl = core.controller
    est = ctl.estimator
    session = ctl.session
    return Snapshot(
        state=ctl.state.value,
        foot_load_kg=ctl.foot_kg,
        bar_load_kg=est.bar_kg,
        limit_kg=ctl.limit_kg,
        therapist_weight_kg=ctl.therapist_kg,
        session_id=session.session_id if session is not None else None,
        mount_faults=dict(zip(ctl.mount_names, list(est.mount_fault), strict=True)),
        output_faults=core.outputs.faults,
        loop_fault=core.loop.loop_fault,
    )


def rig_id(name: str) -> str:
    """The rig name as one MQTT topic level and HA node id: ``Room 2`` -> ``room_2``."""
    slug = re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_")
    return slug or "rig"


@dataclass(frozen=True)
class Topics:
    base: str

    @classmethod
    def for_rig(cls, prefix: str, rig: str) -> Topics:
        return cls(f"{prefix}/{rig}")

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def transition(self) -> str:
        return f"{self.base}/transition"

    @property
    def loads(self) -> str:
        return f"{self.base}/loads"

    @property
    def session(self) -> str:
        return f"{self.base}/session"

    @property
    def faults(self) -> str:
        return f"{self.base}/faults"


def discovery_messages(discovery_prefix: str, rig_name: str, topics: Topics
                       ) -> list[tuple[str, dict[str, Any]]]:
    """Home Assistant discovery configs: one device per rig, one entity per reading."""
    rig = rig_id(rig_name)
    device = {
        "identifiers": [f"rigctl_{rig}"],
        "name": rig_name,
        "manufacturer": "rigctl",
        "model": "Ashiatsu rig controller",
        "sw_version": __version__,
    }
    common = {
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
        "origin": {"name": "rigctl", "sw_version": __version__},
    }
    kg = {"unit_of_measurement": "kg", "device_class": "weight", "state_class": "measurement",
          "suggested_display_precision": 1}
    entities: list[tuple[str, str, dict[str, Any]]] = [
        ("sensor", "state", {"name": "State", "state_topic": topics.state,
                             "device_class": "enum", "options": [s.value for s in State]}),
        ("sensor", "foot_load", {"name": "Foot load", "state_topic": topics.loads,
                                 "value_template": "{{ value_json.foot_load_kg }}", **kg}),
        ("sensor", "bar_load", {"name": "Bar load", "state_topic": topics.loads,
                                "value_template": "{{ value_json.bar_load_kg }}", **kg}),
        ("sensor", "limit", {"name": "Foot load limit", "state_topic": topics.session,
                             "value_template": "{{ value_json.limit_kg }}",
                             "unit_of_measurement": "kg", "device_class": "weight"}),
        ("binary_sensor", "session", {"name": "Session", "state_topic": topics.session,
                                      "value_template":
                                          "{{ 'ON' if value_json.active else 'OFF' }}",
                                      "device_class": "running",
                                      "json_attributes_topic": topics.session}),
        ("binary_sensor", "fault", {"name": "Fault", "state_topic": topics.faults,
                                    "value_template":
                                        "{{ 'ON' if value_json.active else 'OFF' }}",
                                    "device_class": "problem",
                                    "json_attributes_topic": topics.faults}),
    ]
    out = []
    for component, key, fields in entities:
        config = {**fields, **common, "unique_id": f"rigctl_{rig}_{key}"}
        out.append((f"{discovery_prefix}/{component}/{rig}/{key}/config", config))
    return out


def loads_payload(s: Snapshot) -> dict[str, float]:
    return {"foot_load_kg": round(s.foot_load_kg, 2), "bar_load_kg": round(s.bar_load_kg, 2)}


def session_payload(s: Snapshot) -> dict[str, Any]:
    return {"active": s.limit_kg is not None, "limit_kg": s.limit_kg,
            "therapist_weight_kg": s.therapist_weight_kg, "session_id": s.session_id}


def faults_payload(s: Snapshot) -> dict[str, Any]:
    active = (s.state == State.FAULT.value or s.loop_fault
              or any(f is not None for f in s.mount_faults.values()))
    return {"active": active, "mounts": s.mount_faults, "output_faults": s.output_faults,
            "loop_fault": s.loop_fault}


class LoadThrottle:
    """At most one loads message per interval; only when the loads moved, or as a heartbeat."""

    def __init__(self, interval_s: float, resolution_kg: float = 0.05,
                 heartbeat_s: float = LOAD_HEARTBEAT_S) -> None:
        self.interval_s = interval_s
        self.resolution_kg = resolution_kg
        self.heartbeat_s = heartbeat_s
        self.last_t: float | None = None
        self.last: dict[str, float] | None = None

    def due(self, now_s: float, loads: dict[str, float]) -> bool:
        if self.last_t is not None and now_s - self.last_t < self.interval_s:
            return False
        if self.last is None or self.last_t is None or now_s - self.last_t >= self.heartbeat_s:
            return True
        return any(abs(v - self.last.get(k, 0.0)) >= self.resolution_kg for k, v in loads.items())

    def sent(self, now_s: float, loads: dict[str, float]) -> None:
        self.last_t = now_s
        self.last = loads

    def reset(self) -> None:
        self.last_t = None
        self.last = None


class MqttTelemetry:
    """Publishes one rig's telemetry from its own thread; paho's thread does the network."""

    def __init__(self, cfg: MqttSection, rig_name: str, snapshot: Callable[[], Snapshot],
                 client: mqtt.Client | None = None) -> None:
        self.cfg = cfg
        self.rig_name = rig_name
        self.rig = rig_id(rig_name)
        self.topics = Topics.for_rig(cfg.topic_prefix, self.rig)
        self.snapshot = snapshot
        self.client = client or mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id or f"rigctl-{self.rig}",
            protocol=mqtt.MQTTv311,
        )
        self.connected = False
        self.connects = 0
        self.published = 0
        self._throttle = LoadThrottle(cfg.load_interval_ms / 1000)
        self._transitions: deque[Transition] = deque(maxlen=256)
        self._resync = False
        self._last_session: dict[str, Any] | None = None
        self._last_faults: dict[str, Any] | None = None
        self._last_state: str | None = None
        self._outage_logged = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rigctl-mqtt", daemon=True)

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        c = self.client
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_connect_fail = self._on_connect_fail
        if self.cfg.username is not None:
            c.username_pw_set(self.cfg.username, self.cfg.password)
        c.will_set(self.topics.availability, "offline", qos=1, retain=True)
        c.reconnect_delay_set(min_delay=1, max_delay=self.cfg.reconnect_max_s)
        c.max_queued_messages_set(1000)  # a bound, whatever happens to the broker
        # connect_async: a missing broker neither blocks nor fails start-up.
        c.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        c.loop_start()
        self._thread.start()
        log.info("mqtt: telemetry for %s to %s:%d under %s", self.rig_name, self.cfg.host,
                 self.cfg.port, self.topics.base)

    def stop(self, timeout: float = 1.0) -> None:
        """Say offline (retained) while the broker still hears us, then disconnect.

        Bounded: the core stops its outputs after this, and paho's thread may be
        inside a connect attempt to an unreachable host (up to its 5 s timeout).
        """
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self.connected:
            info = self.client.publish(self.topics.availability, "offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout)
        self.client.disconnect()
        closer = threading.Thread(target=self.client.loop_stop, name="rigctl-mqtt-stop",
                                  daemon=True)
        closer.start()
        closer.join(timeout)

    # -- from other threads: O(1), never blocks ----------------------------------------
    def on_transition(self, tr: Transition) -> None:
        self._transitions.append(tr)
        self._wake.set()

    # -- paho callbacks (paho's network thread) -------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any,
                    reason: Any, properties: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("mqtt: broker %s:%d refused the connection: %s", self.cfg.host,
                        self.cfg.port, reason)
            return
        self.connected = True
        self.connects += 1
        self._outage_logged = False
        self._resync = True
        self._wake.set()
        log.info("mqtt: connected to %s:%d", self.cfg.host, self.cfg.port)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason: Any, properties: Any) -> None:
        was = self.connected
        self.connected = False
        if was and not self._stop.is_set():
            log.warning("mqtt: lost the broker (%s); reconnecting in the background", reason)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        if not self._outage_logged:
            self._outage_logged = True
            log.warning("mqtt: broker %s:%d unreachable; retrying in the background "
                        "(the rig keeps warning as usual)", self.cfg.host, self.cfg.port)

    # -- publishing thread ------------------------------------------------------
    def _publish(self, topic: str, payload: str | dict[str, Any], qos: int = 0,
                 retain: bool = False) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        info = self.client.publish(topic, data, qos=qos, retain=retain)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self.published += 1

    def _run(self) -> None:
        interval = self.cfg.load_interval_ms / 1000
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._step()
            except Exception:  # telemetry must never take the core down
                log.exception("mqtt: publishing failed")

    def _step(self) -> None:
        if not self.connected:
            self._transitions.clear()  # a reconnect resyncs the current state
            return
        snap = self.snapshot()
        if self._resync:
            self._resync = False
            self._publish_all(snap)
            return
        while self._transitions:
            tr = self._transitions.popleft()
            self._publish_transition(tr)
        self._publish_changes(snap)

    def _publish_all(self, snap: Snapshot) -> None:
        self._transitions.clear()
        self._publish(self.topics.availability, "online", qos=1, retain=True)
        if self.cfg.discovery:
            for topic, config in discovery_messages(self.cfg.discovery_prefix, self.rig_name,
                                                    self.topics):
                self._publish(topic, config, qos=1, retain=True)
        self._last_state = snap.state
        self._publish(self.topics.state, snap.state, qos=1, retain=True)
        self._last_session = self._last_faults = None
        self._throttle.reset()
        self._publish_changes(snap)

    def _publish_transition(self, tr: Transition) -> None:
        state = tr.state.value
        wall_s = time.time() - (time.monotonic_ns() - tr.t_ns) / 1e9
        self._publish(self.topics.transition, {"state": state, "foot_load_kg": round(tr.foot_kg, 2),
                                               "t_s": round(wall_s, 3)}, qos=1)
        if state != self._last_state:
            self._last_state = state
            self._publish(self.topics.state, state, qos=1, retain=True)

    def _publish_changes(self, snap: Snapshot) -> None:
        session = session_payload(snap)
        if session != self._last_session:
            self._last_session = session
            self._publish(self.topics.session, session, qos=1, retain=True)
        faults = faults_payload(snap)
        if faults != self._last_faults:
            self._last_faults = faults
            self._publish(self.topics.faults, faults, qos=1, retain=True)
        now = time.monotonic()
        loads = loads_payload(snap)
        if self._throttle.due(now, loads):
            self._throttle.sent(now, loads)
            self._publish(self.topics.loads, loads)


def start_telemetry(core: Core) -> MqttTelemetry | None:
    """Start MQTT telemetry for a core when ``[mqtt] enabled``; ``None`` otherwise."""
    cfg = core.config.mqtt
    if not cfg.enabled:
        return None
    tel = MqttTelemetry(cfg, core.config.rig.name, lambda: core_snapshot(core))
    core.on_transition(tel.on_transition)
    tel.start()
    return tel
