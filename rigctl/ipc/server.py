"""The core process's side of the socket: request/response plus a subscription stream.

Runs in its own threads, never in the loop thread: one thread per connection
reads requests and answers them from a dispatch table, and one publisher
thread sends a status snapshot to every subscriber at a fixed rate (so the
core's work is the same whether one or a hundred HTTP clients watch).
A subscriber that cannot keep up is disconnected, never waited for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rigctl.core.runtime import CoreTimeout
from rigctl.ipc.protocol import MAX_LINE, IpcError, decode, encode

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Any]
SEND_TIMEOUT_S = 2.0


class CoreAlreadyRunning(RuntimeError):
    """Another core answers on the socket: two cores must never drive one rig."""


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.subscribed = False
        self.alive = True

    def send(self, msg: dict[str, Any]) -> bool:
        data = encode(msg)
        with self.lock:
            if not self.alive:
                return False
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                self.alive = False
                return False

    def close(self) -> None:
        self.alive = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()


class IpcServer:
    """Serves ``handlers`` (op name -> fn(args) -> JSON result) on a unix socket.

    Other parts of the core add their own request kinds with :meth:`register`
    (calibration, comfort button, ...). ``status_fn`` makes the snapshots that
    subscribers receive ``status_hz`` times a second.
    """

    def __init__(self, path: Path, status_fn: Callable[[], dict[str, Any]],
                 status_hz: float = 20.0) -> None:
        self.path = Path(path)
        self.status_fn = status_fn
        self.period_s = 1.0 / status_hz
        self.handlers: dict[str, Handler] = {}
        #: ops that take seconds (calibration captures, weigh-in): answered from their own
        #: thread, so the connection keeps serving other requests meanwhile
        self.slow_ops: set[str] = set()
        self._conns: list[_Conn] = []
        self._conns_lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._bound = False
        self.register("ping", lambda args: {"pid": os.getpid()})

    def register(self, op: str, fn: Handler, slow: bool = False) -> None:
        """Answer requests ``op`` with ``fn(args)``; raise ``IpcError`` for an error answer.

        ``slow``: ``fn`` may block for seconds; it then runs in a thread of its own.
        """
        self.handlers[op] = fn
        if slow:
            self.slow_ops.add(op)

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        self._claim_path()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(self.path))
        self._bound = True
        os.chmod(self.path, 0o660)
        s.listen(16)
        s.settimeout(0.2)
        self._sock = s
        for target, name in ((self._accept, "rigctl-ipc-accept"),
                             (self._publish, "rigctl-ipc-publish")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        log.info("ipc: listening on %s", self.path)

    def _claim_path(self) -> None:
        if not self.path.exists():
            return
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.path))
        except OSError:
            self.path.unlink()  # left behind by a core that died: take it over
            return
        finally:
            probe.close()
        raise CoreAlreadyRunning(f"another rigctl core is running on {self.path}")

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            c.close()
        for t in self._threads:
            t.join(1.0)
        if self._bound:  # never the socket of another core that refused this one
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._bound = False

    # -- events ------------------------------------------------------------------
    def broadcast(self, event: str, data: Any) -> None:
        """Send an event to every subscriber now (any thread)."""
        msg = {"event": event, "data": data}
        with self._conns_lock:
            conns = [c for c in self._conns if c.subscribed]
        for c in conns:
            if not c.send(msg):
                c.close()

    @property
    def subscriber_count(self) -> int:
        with self._conns_lock:
            return sum(1 for c in self._conns if c.subscribed and c.alive)

    def _publish(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            next_t += self.period_s
            delay = next_t - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_t = time.monotonic()
            if not self.subscriber_count:
                continue
            try:
                self.broadcast("status", self.status_fn())
            except Exception:
                log.exception("ipc: status snapshot failed")

    # -- connections -----------------------------------------------------------
    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                sock, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                            _timeval(SEND_TIMEOUT_S))
            conn = _Conn(sock)
            with self._conns_lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), name="rigctl-ipc-conn",
                             daemon=True).start()

    def _serve(self, conn: _Conn) -> None:
        buf = b""
        try:
            while not self._stop.is_set():
                try:
                    chunk = conn.sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        if self.slow_ops and _op_of(line) in self.slow_ops:
                            threading.Thread(target=self._handle_line, args=(conn, line),
                                             name="rigctl-ipc-slow", daemon=True).start()
                        else:
                            self._handle_line(conn, line)
                if len(buf) > MAX_LINE:
                    conn.send({"id": None, "ok": False, "error": IpcError(
                        "bad_request", f"request longer than {MAX_LINE} bytes").to_dict()})
                    break
        finally:
            conn.close()
            with self._conns_lock:
                if conn in self._conns:
                    self._conns.remove(conn)

    def _handle_line(self, conn: _Conn, line: bytes) -> None:
        rid: Any = None
        try:
            msg = decode(line)
            rid = msg.get("id")
            op = msg.get("op")
            args = msg.get("args") or {}
            if not isinstance(args, dict):
                raise IpcError("bad_request", "args must be an object")
            if op == "subscribe":
                conn.subscribed = True
                result: Any = {"subscribed": True}
            else:
                fn = self.handlers.get(str(op))
                if fn is None:
                    raise IpcError("unknown_op", f"the core has no operation {op!r}")
                result = fn(args)
            reply: dict[str, Any] = {"id": rid, "ok": True, "result": result}
        except IpcError as e:
            reply = {"id": rid, "ok": False, "error": e.to_dict()}
        except CoreTimeout as e:  # the loop did not take the command: stalled or stopping
            reply = {"id": rid, "ok": False, "error": {"code": "busy", "message": str(e)}}
        except ValueError as e:  # bad JSON on the wire
            reply = {"id": rid, "ok": False, "error": {"code": "bad_request",
                                                       "message": str(e)}}
        except Exception as e:
            log.exception("ipc: handler failed")
            reply = {"id": rid, "ok": False, "error": {"code": "internal",
                                                       "message": f"{type(e).__name__}: {e}"}}
        try:
            conn.send(reply)
        except ValueError as e:  # a result that is not JSON (NaN): a bug, still answer
            conn.send({"id": rid, "ok": False, "error": {"code": "internal", "message": str(e)}})


def _op_of(line: bytes) -> str | None:
    try:
        return str(decode(line).get("op"))
    except ValueError:
        return None


def _timeval(seconds: float) -> bytes:
    import struct

    sec = int(seconds)
    return struct.pack("ll", sec, int((seconds - sec) * 1e6))
