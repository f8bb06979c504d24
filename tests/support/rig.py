"""Real processes for the integration tests: ``rigctl core`` and ``rigctl api`` on 127.0.0.1.

``Rig`` starts them with a temporary state directory and a free port; ``Rig.running()``
always stops them at the end (SIGKILL after a grace period), whatever the test did.
Used by tests/api, tests/ease, tests/ops and tests/calibration.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import httpx

from rigctl.config import DEFAULT_SIM_CONFIG
from rigctl.storage import Database

RIGCTL = [sys.executable, "-m", "rigctl"]
MOUNTS = ("bar_a_left", "bar_a_right", "bar_b_left", "bar_b_right")
HEADER = "t_s," + ",".join(MOUNTS)


def bars_for(foot_kg: float, therapist_kg: float = 70.0) -> list[float]:
    """Per-mount true loads that leave ``foot_kg`` on the client."""
    each = (therapist_kg - foot_kg) / len(MOUNTS)
    return [each] * len(MOUNTS)


def scenario(rows: list[tuple[float, float]], therapist_kg: float = 70.0) -> str:
    """Scenario CSV from (t_s, foot load kg) rows, the load shared evenly by the mounts."""
    lines = [HEADER]
    for t, foot in rows:
        lines.append(f"{t:.4f}," + ",".join(f"{x:.4f}" for x in bars_for(foot, therapist_kg)))
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def core_request(state_dir: Path, op: str, args: dict[str, Any] | None = None,
                 timeout: float = 2.0) -> Any:
    """One request straight to the core's socket (what the API process would send)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(state_dir / "core.sock"))
        s.sendall(json.dumps({"id": 1, "op": op, "args": args or {}}).encode() + b"\n")
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("core closed the connection")
            buf += chunk
    msg = json.loads(buf.split(b"\n", 1)[0])
    if not msg["ok"]:
        raise RuntimeError(msg["error"])
    return msg["result"]


class Rig:
    """A core and an API process on one state directory."""

    def __init__(self, tmp: Path, config_extra: str = "", api_args: tuple[str, ...] = ()) -> None:
        self.state_dir = tmp / "state"
        self.state_dir.mkdir(parents=True)
        self.config = tmp / "rig.toml"
        hold = tmp / "hold.csv"
        hold.write_text(scenario([(0.0, 20.0), (1.0, 20.0)]))
        text = DEFAULT_SIM_CONFIG.read_text()
        text = text.replace('scenario = "demo"', f'scenario = "{hold}"')
        text = text.replace("start_session = true", "start_session = false")
        self.config.write_text(text + config_extra)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.api_args = api_args
        self.core: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.logs = tmp
        self._tokens: dict[str, str] = {}

    # -- processes -----------------------------------------------------------------
    def _spawn(self, kind: str, *extra: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{kind}.log", "ab")  # noqa: SIM115 - owned by the process
        return subprocess.Popen(
            [*RIGCTL, kind, "--config", str(self.config), "--state-dir", str(self.state_dir),
             *extra], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_core(self) -> None:
        self.core = self._spawn("core")
        end = time.monotonic() + 15
        while time.monotonic() < end:
            assert self.core.poll() is None, self.log("core")
            with contextlib.suppress(OSError, ConnectionError, RuntimeError):
                core_request(self.state_dir, "ping", timeout=0.5)
                return
            time.sleep(0.05)
        raise AssertionError("core did not start:\n" + self.log("core"))

    def start_api(self, wait_core: bool = True) -> None:
        self.api = self._spawn("api", "--port", str(self.port), *self.api_args)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            assert self.api.poll() is None, self.log("api")
            with contextlib.suppress(httpx.HTTPError):
                h = httpx.get(f"{self.base}/api/v1/health", timeout=1.0).json()
                if h["core_up"] or not wait_core:
                    return
            time.sleep(0.05)
        raise AssertionError("api did not come up:\n" + self.log("api"))

    def kill(self, kind: str, sig: int = signal.SIGKILL) -> None:
        p = self.core if kind == "core" else self.api
        if p is not None and p.poll() is None:
            os.kill(p.pid, sig)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(5)

    @contextlib.contextmanager
    def running(self, api: bool = True) -> Iterator[Self]:
        """Start the core (and the API, unless ``api`` is false); stop both on the way out."""
        try:
            self.start_core()
            if api:
                self.start_api()
            yield self
        finally:
            self.stop()

    def stop(self) -> None:
        for kind in ("api", "core"):
            self.kill(kind, signal.SIGTERM)

    def log(self, kind: str) -> str:
        p = self.logs / f"{kind}.log"
        return p.read_text(errors="replace")[-4000:] if p.exists() else ""

    # -- HTTP ------------------------------------------------------------------------
    def token(self, role: str) -> str:
        if role not in self._tokens:
            db = Database.in_state_dir(self.state_dir)
            try:
                self._tokens[role] = db.create_token("test", role, f"test {role}")[1]
            finally:
                db.close()
        return self._tokens[role]

    def client(self, role: str | None = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(role)}"} if role else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=10.0)
