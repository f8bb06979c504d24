"""The API process's side of the socket: an asyncio client that reconnects by itself.

One connection carries both requests (matched to answers by id) and the
subscription stream. While the core is away every request fails at once with
``CoreUnavailable`` (the API answers 503) and a background task keeps trying
to connect; on each (re)connect the ``on_connect`` hooks run (re-sync rig
settings, reconcile sessions).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rigctl.ipc.protocol import MAX_LINE, IpcError, decode, encode

log = logging.getLogger(__name__)

#: the core counts as down when no status snapshot arrived for this long
STALE_AFTER_S = 1.0
RETRY_S = 0.2


class CoreUnavailable(RuntimeError):
    """The core process is not connected (or stopped answering)."""


Event = dict[str, Any]


class CoreClient:
    def __init__(self, path: Path, request_timeout_s: float = 3.0) -> None:
        self.path = Path(path)
        self.request_timeout_s = request_timeout_s
        self.latest_status: dict[str, Any] | None = None
        self.status_mono = 0.0
        self.connected_since: float | None = None
        self.connects = 0
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._on_connect: list[Callable[[], Awaitable[None]]] = []
        self._on_event: list[Callable[[Event], None]] = []
        self._up = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------
    def on_connect(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._on_connect.append(fn)

    def on_event(self, fn: Callable[[Event], None]) -> None:
        """Call ``fn(event)`` for every event from the core (in the event loop)."""
        self._on_event.append(fn)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="rigctl-core-client")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._drop_connection()

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
            return True
        except TimeoutError:
            return False

    @property
    def connected(self) -> bool:
        return self._writer is not None

    @property
    def up(self) -> bool:
        """Connected and its snapshots are fresh."""
        return self.connected and time.monotonic() - self.status_mono < STALE_AFTER_S

    # -- requests --------------------------------------------------------------
    async def request(self, op: str, args: dict[str, Any] | None = None,
                      timeout: float | None = None) -> Any:
        w = self._writer
        if w is None:
            raise CoreUnavailable("the core process is not running or not reachable")
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            w.write(encode({"id": rid, "op": op, "args": args or {}}))
            await w.drain()
            return await asyncio.wait_for(fut, timeout or self.request_timeout_s)
        except TimeoutError:
            raise CoreUnavailable(f"the core did not answer {op!r} in time") from None
        except (ConnectionError, OSError) as e:
            raise CoreUnavailable(f"lost the core connection: {e}") from None
        finally:
            self._pending.pop(rid, None)

    async def refresh_status(self) -> None:
        """Fetch a snapshot now: after a change, readers must not see the state before it.

        Best effort: if the core just went away, the staleness rule reports it.
        """
        try:
            snap = await self.request("status")
        except (CoreUnavailable, IpcError):
            return
        self.latest_status = snap
        self.status_mono = time.monotonic()

    # -- subscription fan-out ----------------------------------------------------
    def subscribe(self, maxsize: int = 64) -> asyncio.Queue[Event]:
        q: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(q)

    def _fan_out(self, ev: Event) -> None:
        for fn in self._on_event:
            try:
                fn(ev)
            except Exception:
                log.exception("core event hook failed")
        for q in self._subscribers:
            if q.full():  # a slow reader loses old snapshots, never blocks the others
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
            q.put_nowait(ev)

    # -- connection loop -----------------------------------------------------------
    async def _run(self) -> None:
        warned = False
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(str(self.path),
                                                                     limit=MAX_LINE)
            except (OSError, ValueError):
                if not warned:
                    log.warning("core: not reachable on %s; retrying every %.1f s",
                                self.path, RETRY_S)
                    warned = True
                await asyncio.sleep(RETRY_S)
                continue
            warned = False
            self._writer = writer
            self.connects += 1
            reading = asyncio.create_task(self._read(reader))
            try:
                await self.request("subscribe")
                self.connected_since = time.monotonic()
                log.info("core: connected on %s", self.path)
                for fn in self._on_connect:
                    try:
                        await fn()
                    except (CoreUnavailable, IpcError) as e:
                        log.warning("core: on-connect step failed: %s", e)
                    except Exception:
                        log.exception("core: on-connect step failed")
                self._up.set()
                await reading
            except CoreUnavailable:
                pass
            finally:
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reading
                self._drop_connection()
                self._fan_out({"event": "core", "data": {"up": False}})
                log.warning("core: connection lost; reconnecting")
            await asyncio.sleep(RETRY_S)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await reader.readline()
            except (ConnectionError, OSError, ValueError):
                return
            if not line:
                return
            try:
                msg = decode(line)
            except ValueError:
                log.warning("core: unreadable line dropped")
                continue
            if "event" in msg:
                if msg["event"] == "status":
                    self.latest_status = msg.get("data")
                    self.status_mono = time.monotonic()
                self._fan_out(msg)
                continue
            fut = self._pending.get(msg.get("id"))  # type: ignore[arg-type]
            if fut is None or fut.done():
                continue
            if msg.get("ok"):
                fut.set_result(msg.get("result"))
            else:
                fut.set_exception(IpcError.from_dict(msg.get("error")))

    def _drop_connection(self) -> None:
        w, self._writer = self._writer, None
        self._up.clear()
        self.connected_since = None
        self.latest_status = None
        self.status_mono = 0.0
        if w is not None:
            with contextlib.suppress(Exception):
                w.close()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(CoreUnavailable("lost the core connection"))
        self._pending.clear()
