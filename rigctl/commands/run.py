"""``rigctl run``: the core and the API as two processes, for development (``make run``).

On a Pi they are two systemd units; here one command starts both, prints the
URL, passes the core's transition lines through, and on Ctrl-C stops the demo
session (so it is stored with its summary), then the API, then the core.
On the sim backend it also makes a short-lived admin token for curl and
revokes it on exit.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

from rigctl.config import Config, load_config
from rigctl.ipc.protocol import socket_path
from rigctl.service.signals import StopSignals


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run core + API (sim rig and demo session by default)")
    p.add_argument("--config", type=Path, default=None,
                   help="config file (default: config/sim.toml)")
    p.add_argument("--state-dir", type=Path, default=Path("state"),
                   help="state directory (default: ./state)")
    p.add_argument("--port", type=int, default=8080, help="API port (default 8080)")
    p.add_argument("--seconds", type=float, default=None,
                   help="stop after this many seconds (default: until Ctrl-C)")
    p.set_defaults(func=main)


def _die_with_parent() -> None:
    """Children get SIGTERM if ``rigctl run`` itself dies (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def spawn(kind: str, state_dir: Path, config: Path | None, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "rigctl", kind, "--state-dir", str(state_dir), *extra]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.Popen(cmd, start_new_session=True, preexec_fn=_die_with_parent)


def wait_for_socket(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(path))
                return True
            except OSError:
                pass
        time.sleep(0.05)
    return False


def http(method: str, url: str, token: str | None = None,
         body: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


def wait_for_health(base: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            if http("GET", f"{base}/api/v1/health", timeout=1.0)["core_up"]:
                return True
        except (OSError, ValueError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    return False


def stop_proc(p: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(args: argparse.Namespace) -> int:
    from rigctl.cli import UserError
    from rigctl.storage import Database

    cfg = load_config(args.config)  # a bad config stops here, with one line
    state_dir: Path = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{args.port}"
    stop = StopSignals().install()  # SIGTERM, SIGINT: a handler that takes no lock
    procs: list[subprocess.Popen[bytes]] = []
    token: str | None = None
    token_id: int | None = None
    session_id: str | None = None
    print(f"rigctl: {cfg.rig.name} on the {cfg.rig.backend} backend, {len(cfg.mounts)} mounts, "
          f"loop {cfg.loop.rate_hz} Hz. Ctrl-C stops.", flush=True)
    demo = cfg.rig.backend == "sim" and cfg.demo.start_session
    try:
        # with a demo session the scenario is started with it, so both share t=0
        core = spawn("core", state_dir, args.config, *(["--no-scenario"] if demo else []))
        procs.append(core)
        if not wait_for_socket(socket_path(state_dir), core, 10.0):
            raise UserError("the core process did not start (see its messages above)", 1)
        api = spawn("api", state_dir, args.config, "--port", str(args.port))
        procs.append(api)
        if not wait_for_health(base, api, 20.0):
            raise UserError(f"the API did not come up on {base} (port in use?)", 1)
        print(f"rigctl: API on {base}/  (OpenAPI docs: {base}/docs)", flush=True)
        if cfg.rig.backend == "sim":
            db = Database.in_state_dir(state_dir)
            try:
                row, token = db.create_token("rigctl run", "admin", "rigctl run (dev)")
                token_id = int(row["id"])
            finally:
                db.close()
            print(f"rigctl: dev admin token until exit:  export RIGCTL_TOKEN={token}",
                  flush=True)
            if demo:
                session_id = _demo_session(base, token, cfg)
        while not stop.is_set():
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                which = "core" if dead[0] is core else "API"
                print(f"rigctl: the {which} process exited ({dead[0].returncode}); stopping",
                      file=sys.stderr, flush=True)
                return 1
            stop.wait(args.seconds if args.seconds is not None else 0.5)
            if args.seconds is not None:
                break
    finally:
        if session_id is not None and token is not None:
            with contextlib.suppress(Exception):
                s = http("POST", f"{base}/api/v1/sessions/{session_id}/stop", token)
                summ = s.get("summary") or {}
                print(f"rigctl: demo session stopped: {summ.get('duration_s')} s, peak foot "
                      f"load {summ.get('peak_foot_load_kg')} kg, over limit "
                      f"{summ.get('time_over_limit_s')} s", flush=True)
        for p in reversed(procs):
            stop_proc(p)
        if token_id is not None:
            db = Database.in_state_dir(state_dir)
            try:
                db.revoke_token("rigctl run", token_id)
            finally:
                db.close()
    return 0


def _scenario_text(spec: str) -> str:
    if "/" not in spec and not spec.endswith(".csv"):
        return resources.files("rigctl.scenarios").joinpath(f"{spec}.csv").read_text()
    return Path(spec).read_text(encoding="utf-8")


def _demo_session(base: str, token: str, cfg: Config) -> str | None:
    """The demo scenario, then a cleared demo client and its session, through the API."""
    limit_kg, therapist_kg = cfg.demo.limit_kg, cfg.demo.therapist_kg
    try:
        req = urllib.request.Request(
            f"{base}/api/v1/sim/scenario?loop={'true' if cfg.sim.loop_scenario else 'false'}",
            data=_scenario_text(cfg.sim.scenario).encode(), method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
        urllib.request.urlopen(req, timeout=5.0).close()
        # let the median filters fill with the scenario's first loads (the therapist
        # hanging on the bars) so the session does not start on the empty rig's 0 kg
        time.sleep(0.15)
        active = [s for s in http("GET", f"{base}/api/v1/sessions?limit=1", token)
                  if s["status"] == "active"]
        if active:
            print(f"rigctl: session {active[0]['id']} is already active (restored)", flush=True)
            return None
        clients = [c for c in http("GET", f"{base}/api/v1/clients", token)
                   if c["display_name"] == "demo client"]
        client = clients[0] if clients else http(
            "POST", f"{base}/api/v1/clients", token,
            {"display_name": "demo client", "foot_load_limit_kg": limit_kg, "cleared": True})
        s = http("POST", f"{base}/api/v1/sessions", token,
                 {"client_id": client["id"], "therapist_weight_kg": therapist_kg})
    except urllib.error.HTTPError as e:
        print(f"rigctl: demo session not started: {e.read().decode(errors='replace')}",
              file=sys.stderr, flush=True)
        return None
    print(f"rigctl: demo session {s['id']}: limit {client['foot_load_limit_kg']:g} kg, "
          f"therapist {therapist_kg:g} kg", flush=True)
    return str(s["id"])

