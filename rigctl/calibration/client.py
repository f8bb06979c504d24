"""How ``rigctl calibrate`` reaches the rig: through the running core, or standalone.

``IpcRig`` talks to ``rigctl core`` over its unix socket (the normal case on
a Pi: the core owns the hardware and keeps running). ``LocalRig`` runs a core
inside the command (``--standalone``, when no core is running). Both answer
the same operations with the same handlers (``rigctl.calibration.ipc``), so
the wizard and the script forms behave the same either way.

On the sim backend both can also "hang" a known weight, by playing a short
scenario (``rigctl.calibration.simhang``); on real hardware a person does.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rigctl.calibration.simhang import hang_csv
from rigctl.config import Config
from rigctl.ipc.protocol import IpcError, socket_path

#: ops whose answer takes up to a settle/weigh-in timeout; the rest answer at once
SLOW_TIMEOUT_S = 150.0
FAST_TIMEOUT_S = 10.0


class RigUnavailable(RuntimeError):
    """No core answers (IPC) or the hardware could not be started (standalone)."""


def core_running(state_dir: Path) -> bool:
    """Whether a core answers on the state directory's socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(str(socket_path(state_dir)))
        return True
    except OSError:
        return False
    finally:
        s.close()


class _Conn:
    """One blocking request/response connection (events are skipped: we never subscribe)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(str(path))
        except OSError as e:
            self.sock.close()
            raise RigUnavailable(f"no rigctl core answers on {path} ({e.strerror or e})") from None
        self.buf = b""
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    def request(self, op: str, args: Mapping[str, Any], timeout: float) -> Any:
        with self.lock:
            rid = next(self.ids)
            self.sock.settimeout(timeout)
            try:
                self.sock.sendall(json.dumps({"id": rid, "op": op, "args": dict(args)}).encode()
                                  + b"\n")
                while True:
                    while b"\n" not in self.buf:
                        chunk = self.sock.recv(65536)
                        if not chunk:
                            raise RigUnavailable("the core closed the connection")
                        self.buf += chunk
                    line, self.buf = self.buf.split(b"\n", 1)
                    msg = json.loads(line)
                    if not isinstance(msg, dict) or msg.get("id") != rid:
                        continue
                    if msg.get("ok"):
                        return msg.get("result")
                    raise IpcError.from_dict(msg.get("error"))
            except TimeoutError:
                raise RigUnavailable(f"the core did not answer {op} within {timeout:g} s") \
                    from None
            except OSError as e:
                raise RigUnavailable(f"lost the core connection: {e}") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Rig:
    """What the CLI needs: operations by name, live readings, and (sim) hanging weights."""

    config: Config
    where: str

    def call(self, op: str, args: Mapping[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def live(self) -> dict[str, Any]:
        return dict(self.call("calibration.live"))

    @property
    def is_sim(self) -> bool:
        return self.config.rig.backend == "sim"

    def hang(self, loads_kg: Mapping[str, float]) -> None:
        """Sim only: put these loads on the mounts (others 0) by playing a scenario."""
        raise NotImplementedError

    def close(self) -> None:
        return None


class IpcRig(Rig):
    def __init__(self, config: Config, state_dir: Path) -> None:
        self.config = config
        path = socket_path(state_dir)
        self.where = f"the running core ({path})"
        self._main = _Conn(path)
        self._live = _Conn(path)  # readings while a capture runs on the other connection
        self._hung: dict[str, float] = {}

    def call(self, op: str, args: Mapping[str, Any] | None = None) -> Any:
        from rigctl.calibration.ipc import OPS

        conn = self._live if op == "calibration.live" else self._main
        return conn.request(op, args or {}, SLOW_TIMEOUT_S if OPS.get(op) else FAST_TIMEOUT_S)

    def hang(self, loads_kg: Mapping[str, float]) -> None:
        csv = hang_csv(self.config.mount_names, loads_kg, self._hung)
        self._main.request("sim.scenario", {"csv": csv}, FAST_TIMEOUT_S)
        self._hung = dict(loads_kg)

    def close(self) -> None:
        self._main.close()
        self._live.close()


class LocalRig(Rig):
    """A core inside this process (``--standalone``): the same handlers as the core's socket."""

    def __init__(self, config: Config, state_dir: Path) -> None:
        from rigctl.backends import build_pin_factory, build_source
        from rigctl.backends.sim import SimRig
        from rigctl.calibration import ipc
        from rigctl.calibration.procedures import Calibrator
        from rigctl.calibration.startup import build_controller
        from rigctl.core.runtime import Core
        from rigctl.outputs.factory import build_outputs

        if core_running(state_dir):
            raise RigUnavailable(f"a rigctl core is running on {socket_path(state_dir)}: it "
                                 "owns the rig; calibrate through it (drop --standalone)")
        self.config = config
        self.where = "this process (standalone)"
        controller, applied = build_controller(config, state_dir)
        source = build_source(config)
        if isinstance(source, SimRig):
            source.hold([0.0] * len(config.mounts))
        self.sim = source if isinstance(source, SimRig) else None
        self.core = Core(config, source, build_outputs(config, build_pin_factory(config)),
                         controller=controller)
        self.calibrator = Calibrator(self.core, state_dir, applied)
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {}
        ipc.register(self, self.calibrator)
        self.core.start()
        if not self.core.loop.first_tick.wait(5):
            self.core.stop()
            raise RigUnavailable("the control loop did not start")
        time.sleep(0.1)  # the median filters fill

    def register(self, op: str, fn: Callable[[dict[str, Any]], Any], slow: bool = False) -> None:
        self.handlers[op] = fn

    def call(self, op: str, args: Mapping[str, Any] | None = None) -> Any:
        return self.handlers[op](dict(args or {}))

    def hang(self, loads_kg: Mapping[str, float]) -> None:
        from rigctl.backends.scenario import parse_scenario

        sim = self.sim
        if sim is None:
            raise RigUnavailable("only the sim backend hangs weights by itself")
        now = time.monotonic_ns()
        start = {n: sim.true_load(i, now)[0] for i, n in enumerate(sim.mount_names)}
        csv = hang_csv(sim.mount_names, loads_kg, start)
        self.core.call(lambda t: sim.play(parse_scenario(csv, sim.mount_names, "hang"), t))

    def close(self) -> None:
        self.core.stop()


def open_rig(config: Config, state_dir: Path, standalone: bool) -> Rig:
    if standalone:
        return LocalRig(config, state_dir)
    if not core_running(state_dir):
        raise RigUnavailable(f"no rigctl core answers on {socket_path(state_dir)}: start it "
                             "(systemctl start rigctl-core, or rigctl core), or add "
                             "--standalone to drive the rig from this command")
    return IpcRig(config, state_dir)
