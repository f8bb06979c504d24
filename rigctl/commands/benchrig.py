"""A throw-away core + API for the benches that measure through the API (not a sub-command).

``rigctl bench-api`` and ``rigctl bench-ease`` both need the two real processes
on a free port in a temporary state directory, with the config's demo session
off, reached over HTTP and straight over the core's socket, and always stopped
and removed afterwards; this is that rig, once.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rigctl.ipc.protocol import socket_path


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, int(-(-len(sorted_values) * p // 100)) - 1))
    return sorted_values[k]


class BenchRig:
    """The running pair: ``base`` URL for HTTP, ``core()`` for the core's own socket."""

    def __init__(self, prog: str, state: Path, base: str) -> None:
        self.prog = prog
        self.state = state
        self.base = base

    def core(self, op: str, args: dict[str, Any] | None = None) -> Any:
        """One request straight to the core (figures the API does not serve, sim controls)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(socket_path(self.state)))
            s.sendall(json.dumps({"id": 1, "op": op, "args": args or {}}).encode() + b"\n")
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("the core closed the connection")
                buf += chunk
        msg = json.loads(buf.split(b"\n", 1)[0])
        if not msg.get("ok"):
            raise RuntimeError(msg.get("error"))
        return msg["result"]

    def token(self, role: str, note: str = "bench") -> str:
        """A new API token of ``role``, named after the bench."""
        from rigctl.storage import Database

        db = Database.in_state_dir(self.state)
        try:
            return db.create_token(self.prog, role, note)[1]
        finally:
            db.close()


@contextlib.contextmanager
def bench_rig(prog: str, config: Path, *core_args: str) -> Iterator[BenchRig]:
    """Start ``rigctl core`` (with ``core_args``) and ``rigctl api``; stop and remove both after.

    ``prog`` names the bench in errors (``UserError``, exit 1) and in token names.
    """
    from rigctl.cli import UserError
    from rigctl.commands.run import stop_proc, wait_for_health, wait_for_socket

    text = config.read_text().replace("start_session = true", "start_session = false")
    tmp = Path(tempfile.mkdtemp(prefix=f"rigctl-{prog}-"))
    cfg_path = tmp / "rig.toml"
    cfg_path.write_text(text)
    state = tmp / "state"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    py = [sys.executable, "-m", "rigctl"]
    common = ["--config", str(cfg_path), "--state-dir", str(state)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        core = subprocess.Popen([*py, "core", *common, *core_args],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        procs.append(core)
        if not wait_for_socket(socket_path(state), core, 15):
            raise UserError(f"{prog}: the core did not start", 1)
        api = subprocess.Popen([*py, "api", *common, "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
        procs.append(api)
        if not wait_for_health(base, api, 20):
            raise UserError(f"{prog}: the API did not come up", 1)
        yield BenchRig(prog, state, base)
    finally:
        for p in reversed(procs):
            stop_proc(p)
        shutil.rmtree(tmp, ignore_errors=True)
