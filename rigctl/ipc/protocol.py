"""The core <-> API wire format: newline-delimited JSON over a unix socket.

Requests   ``{"id": 7, "op": "session.start", "args": {...}}``
Responses  ``{"id": 7, "ok": true, "result": ...}`` or
           ``{"id": 7, "ok": false, "error": {"code": "conflict", "message": "..."}}``
Events     ``{"event": "status", "data": {...}}`` / ``{"event": "transition", ...}``
           on a connection that sent ``{"op": "subscribe"}``.

One JSON object per line; a line never holds a raw newline because
``json.dumps`` escapes them. Error codes map onto HTTP statuses in the API.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

SOCKET_NAME = "core.sock"
#: longest line either side accepts (a scenario CSV travels in one request)
MAX_LINE = 8 * 1024 * 1024

#: error codes a handler may raise, and the HTTP status the API answers with
ERROR_STATUS = {
    "bad_request": 422,
    "not_found": 404,
    "conflict": 409,
    "unsupported": 404,
    "unknown_op": 501,
    "busy": 503,
    "internal": 500,
}


class IpcError(Exception):
    """An error answer: ``code`` is one of ``ERROR_STATUS``, ``message`` is for people."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code if code in ERROR_STATUS else "internal"
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            d["field"] = self.field
        return d

    @classmethod
    def from_dict(cls, d: Any) -> IpcError:
        if not isinstance(d, dict):
            return cls("internal", f"malformed error from the core: {d!r}")
        return cls(str(d.get("code", "internal")), str(d.get("message", "")), d.get("field"))


def number_arg(args: dict[str, Any], key: str, lo: float, hi: float,
               default: float | None = None, unit: str = "") -> float:
    """``args[key]`` as a finite number within ``lo``..``hi``, else a ``bad_request``.

    Every core operation checks its numbers here, so each error names the field
    and the allowed range (in ``unit``, if given) the same way. A missing key
    takes ``default``; without one the number is required.
    """
    v = args.get(key, default)
    of, u = (f" of {unit}", f" {unit}") if unit else ("", "")
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise IpcError("bad_request", f"{key}: a number{of} is required ({lo:g}-{hi:g}{u})", key)
    if not lo <= v <= hi:
        raise IpcError("bad_request", f"{key}: {v:g} is outside the allowed range "
                       f"{lo:g}-{hi:g}{u}", key)
    return float(v)


def socket_path(state_dir: Path) -> Path:
    return Path(state_dir) / SOCKET_NAME


def encode(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    msg = json.loads(line)
    if not isinstance(msg, dict):
        raise ValueError("a message must be a JSON object")
    return msg
