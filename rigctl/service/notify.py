"""systemd readiness and watchdog notifications (``sd_notify``), standard library only.

``sd_notify`` is one datagram to the unix socket named by ``$NOTIFY_SOCKET``
(a leading ``@`` names an abstract socket). The core sends ``READY=1`` only
after the control loop's first good tick, so ``systemctl start`` returns when
the rig is really protecting someone. ``WATCHDOG=1`` is sent at half of
``$WATCHDOG_USEC`` and only while the loop's own health check passes (good
ticks advancing, the last tick recent): a hung loop leaves its outputs latched
(green on, red off), so it must stop pinging and let systemd kill and restart it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


def notify_address(environ: Mapping[str, str]) -> str | None:
    """The socket address in ``$NOTIFY_SOCKET``, abstract ``@name`` mapped to ``\\0name``."""
    raw = environ.get("NOTIFY_SOCKET", "")
    if raw.startswith("@"):
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    if raw:
        # vsock: and other transports are for VMs; a Pi never gets them.
        log.warning("NOTIFY_SOCKET=%r is not a unix socket path; not notifying systemd", raw)
    return None


def watchdog_interval_s(environ: Mapping[str, str], pid: int | None = None) -> float | None:
    """Seconds between watchdog pings (half of ``$WATCHDOG_USEC``), ``None`` when off.

    ``$WATCHDOG_PID``, when set, must be this process: a child that inherited the
    environment must not ping on its parent's behalf.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec:
        return None
    wpid = environ.get("WATCHDOG_PID", "")
    if wpid and wpid != str(pid if pid is not None else os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number; watchdog pings off", usec)
        return None
    return value / 2e6 if value > 0 else None


class Notifier:
    """A non-blocking datagram socket to systemd's notify socket (a no-op without one)."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self.sent = 0
        self.errors = 0
        self._sock: socket.socket | None = None
        if address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        return cls(notify_address(os.environ if environ is None else environ))

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields in one datagram; False (counted, never raised) on failure."""
        if self._sock is None or self.address is None:
            return False
        try:
            self._sock.sendto("\n".join(fields).encode(), self.address)
        except OSError as e:
            self.errors += 1
            if self.errors <= 3:
                log.warning("sd_notify to %r failed: %s", self.address, e)
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class LoopLike(Protocol):
    """What the health check reads from ``rigctl.core.loop.LoopRunner``."""

    ticks: int
    tick_errors: int
    last_tick_ns: int


@dataclass(frozen=True)
class LoopProbe:
    """The loop's progress counters read at one instant."""

    good_ticks: int
    last_tick_ns: int

    @classmethod
    def read(cls, loop: LoopLike) -> LoopProbe:
        return cls(loop.ticks - loop.tick_errors, loop.last_tick_ns)


def loop_health(prev: LoopProbe, cur: LoopProbe, now_ns: int, max_age_ns: int) -> str | None:
    """``None`` when the loop is healthy, else the reason (pure: the watchdog's rule).

    Healthy means good ticks (ones that did not raise) happened since ``prev``
    and the newest tick ended at most ``max_age_ns`` ago.
    """
    if cur.good_ticks <= prev.good_ticks:
        return "no good tick since the last check"
    age_ns = now_ns - cur.last_tick_ns
    if age_ns > max_age_ns:
        return f"last tick {age_ns / 1e6:.0f} ms ago"
    return None


class ServiceNotifier:
    """Thread that sends READY=1 after the first good tick, then watchdog pings while healthy.

    It only reads the loop's counters: it never touches the controller and
    never blocks the loop thread.
    """

    def __init__(self, loop: LoopLike, notifier: Notifier, watchdog_s: float | None,
                 max_tick_age_s: float = 0.25, status: Callable[[], str] | None = None,
                 check_s: float = 2.0) -> None:
        self.loop = loop
        self.notifier = notifier
        self.watchdog_s = watchdog_s
        self.max_age_ns = int(max_tick_age_s * 1e9)
        self.status = status
        #: seconds between health checks when no watchdog asks for pings
        self.check_s = watchdog_s if watchdog_s is not None else check_s
        self.ready = threading.Event()
        self.pings = 0
        self.unhealthy: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rigctl-sdnotify", daemon=True)

    @classmethod
    def from_env(cls, loop: LoopLike, status: Callable[[], str] | None = None,
                 environ: Mapping[str, str] | None = None) -> ServiceNotifier:
        env = os.environ if environ is None else environ
        return cls(loop, Notifier.from_env(env), watchdog_interval_s(env), status=status)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        self.notifier.send("STOPPING=1", "STATUS=stopping")
        self.notifier.close()

    def _status_field(self) -> list[str]:
        if self.status is None:
            return []
        try:
            return [f"STATUS={self.status()}"]
        except Exception:  # status text is cosmetic; never let it stop the pings
            log.exception("sd_notify status text failed")
            return []

    def _run(self) -> None:
        loop = self.loop
        while not self._stop.is_set():
            if loop.ticks - loop.tick_errors > 0:
                break
            self._stop.wait(0.005)
        else:
            return
        self.notifier.send("READY=1", *self._status_field())
        self.ready.set()
        log.info("sd_notify: ready (watchdog %s)",
                 f"ping every {self.watchdog_s:.2f} s" if self.watchdog_s else "off")
        prev = LoopProbe.read(loop)
        while not self._stop.wait(self.check_s):
            cur = LoopProbe.read(loop)
            reason = loop_health(prev, cur, time.monotonic_ns(), self.max_age_ns)
            prev = cur
            if reason is None:
                if self.unhealthy is not None:
                    log.warning("loop healthy again; watchdog pings resume")
                self.unhealthy = None
                if self.watchdog_s is not None:
                    self.notifier.send("WATCHDOG=1", *self._status_field())
                    self.pings += 1
                elif self.status is not None:
                    self.notifier.send(*self._status_field())
            elif self.unhealthy is None:
                self.unhealthy = reason
                log.error("control loop stalled (%s): withholding watchdog pings so systemd "
                          "restarts the core", reason)
                self.notifier.send(f"STATUS=control loop stalled: {reason}")
