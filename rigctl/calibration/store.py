"""The calibration file in the state directory: versioned, checksummed, power-cut safe.

One JSON file holds every committed calibration (the history; the last one is
in force) and the latest session re-tare. It is only ever replaced whole:
write a temp file in the same directory, fsync it, rename it over the old one,
fsync the directory. A kill or power cut at any instant therefore leaves the
old file or the new one, never a mix; a SHA-256 over the body catches a file
damaged any other way (bad card, hand edit), and a damaged file is refused
loudly rather than replaced by defaults: wrong loads would mean wrong warnings.

The reference zero of each mount is the offset of the committed fit. A
session re-tare is stored beside it (``tare``) and never changes it; the
safety rules (mount capacity) stay measured from the reference zero.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rigctl.calibration.fit import Point

FORMAT = "rigctl-calibration"
FORMAT_VERSION = 1
CALIBRATION_FILE = "calibration.json"
DRAFT_FILE = "calibration-draft.json"
LOCK_FILE = ".calibration.lock"


class CalibrationFileError(Exception):
    """The calibration file cannot be trusted; the message names the file and the fix."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class MountCalibration:
    offset: float  # the reference zero: raw counts with nothing on the mount
    scale: float  # raw counts per kg
    points: tuple[Point, ...] = ()
    residuals_kg: tuple[float | None, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"offset": self.offset, "scale": self.scale,
                "points": [p.to_dict() for p in self.points],
                "residuals_kg": list(self.residuals_kg)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MountCalibration:
        offset, scale = float(d["offset"]), float(d["scale"])
        if not (math.isfinite(offset) and math.isfinite(scale)) or scale == 0:
            raise ValueError("offset and scale must be finite and scale non-zero")
        res = tuple(None if r is None else float(r) for r in d.get("residuals_kg", ()))
        return cls(offset, scale, tuple(Point.from_dict(p) for p in d.get("points", ())), res)


@dataclass(frozen=True)
class CalibrationRecord:
    version: int
    committed_at: str
    installer: str
    rig: str
    mounts: dict[str, MountCalibration]
    verifications: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "committed_at": self.committed_at,
                "installer": self.installer, "rig": self.rig,
                "mounts": {k: v.to_dict() for k, v in self.mounts.items()},
                "verifications": list(self.verifications)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CalibrationRecord:
        return cls(int(d["version"]), str(d["committed_at"]), str(d["installer"]),
                   str(d.get("rig", "")),
                   {str(k): MountCalibration.from_dict(v) for k, v in d["mounts"].items()},
                   tuple(dict(v) for v in d.get("verifications", ())))


@dataclass(frozen=True)
class SessionTare:
    """A re-tare: the working zero per mount, for the calibration version it was taken on."""

    at: str
    version: int
    offsets: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "version": self.version, "offsets": dict(self.offsets)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SessionTare:
        return cls(str(d["at"]), int(d["version"]),
                   {str(k): float(v) for k, v in d["offsets"].items()})


@dataclass(frozen=True)
class CalibrationFile:
    history: tuple[CalibrationRecord, ...] = ()
    tare: SessionTare | None = None

    @property
    def current(self) -> CalibrationRecord | None:
        return self.history[-1] if self.history else None

    @property
    def version(self) -> int:
        cur = self.current
        return cur.version if cur is not None else 0

    def active_tare(self) -> SessionTare | None:
        """The re-tare, if it was taken on the calibration now in force."""
        t = self.tare
        return t if t is not None and t.version == self.version else None

    def body(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION,
                "current_version": self.version,
                "tare": self.tare.to_dict() if self.tare is not None else None,
                "history": [r.to_dict() for r in self.history]}


@dataclass(frozen=True)
class Draft:
    """A calibration in progress: the tare and the points captured so far."""

    started_at: str
    points: tuple[Point, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT + "-draft", "started_at": self.started_at,
                "points": [p.to_dict() for p in self.points]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Draft:
        return cls(str(d["started_at"]), tuple(Point.from_dict(p) for p in d["points"]))


def _digest(body: Mapping[str, Any]) -> str:
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canon.encode()).hexdigest()


def encode(cal: CalibrationFile) -> bytes:
    body = cal.body()
    doc = dict(body, sha256=_digest(body))
    return (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode()


def decode(data: bytes, source: Path | str) -> CalibrationFile:
    """Parse and check a calibration file; any doubt raises ``CalibrationFileError``."""
    hint = ("restore it from a backup, or move it away to fall back to the factory "
            "calibration and calibrate again")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CalibrationFileError(f"{source}: not valid JSON ({e}): {hint}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CalibrationFileError(f"{source}: not a rigctl calibration file: {hint}")
    if doc.get("format_version") != FORMAT_VERSION:
        raise CalibrationFileError(f"{source}: format version {doc.get('format_version')} "
                                   f"is not supported (this rigctl reads {FORMAT_VERSION})")
    digest = doc.pop("sha256", None)
    if digest != _digest(doc):
        raise CalibrationFileError(f"{source}: checksum mismatch (damaged or edited by "
                                   f"hand): {hint}")
    try:
        history = tuple(CalibrationRecord.from_dict(r) for r in doc["history"])
        tare = SessionTare.from_dict(doc["tare"]) if doc.get("tare") else None
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CalibrationFileError(f"{source}: malformed record ({e!r}): {hint}") from None
    versions = [r.version for r in history]
    if versions != list(range(1, len(versions) + 1)):
        raise CalibrationFileError(f"{source}: versions {versions} are not 1..n: {hint}")
    return CalibrationFile(history, tare)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)  # the rename itself must reach the disk
    finally:
        os.close(dfd)


def read_file(path: Path) -> CalibrationFile | None:
    """A calibration file, or None when there is none."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise CalibrationFileError(f"{path}: cannot read: {e.strerror or e}") from None
    return decode(data, path)


class CalibrationStore:
    """Read-modify-write of the calibration file under a lock (threads and processes)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / CALIBRATION_FILE
        self.draft_path = self.state_dir / DRAFT_FILE
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.state_dir / LOCK_FILE, "a") as lf:
            fcntl.flock(lf, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lf, fcntl.LOCK_UN)

    def _clean_temps(self) -> None:
        """Temp files left by a writer that was killed mid-write are garbage: remove them."""
        for pattern in (f".{CALIBRATION_FILE}.*.tmp", f".{DRAFT_FILE}.*.tmp"):
            for p in self.state_dir.glob(pattern):
                with contextlib.suppress(OSError):
                    p.unlink()

    def load(self) -> CalibrationFile:
        return read_file(self.path) or CalibrationFile()

    def commit(self, installer: str, rig: str, mounts: Mapping[str, MountCalibration],
               at: str | None = None) -> CalibrationRecord:
        """Append a new version (it is in force from now on) and drop any re-tare."""
        with self._locked():
            self._clean_temps()
            cur = self.load()
            rec = CalibrationRecord(cur.version + 1, at or utc_now(), installer, rig,
                                    dict(mounts))
            atomic_write(self.path, encode(CalibrationFile((*cur.history, rec), None)))
            return rec

    def set_tare(self, offsets: Mapping[str, float], at: str | None = None) -> SessionTare:
        with self._locked():
            cur = self.load()
            if cur.current is None:
                raise CalibrationFileError("no committed calibration to re-tare")
            tare = SessionTare(at or utc_now(), cur.version, dict(offsets))
            atomic_write(self.path, encode(replace(cur, tare=tare)))
            return tare

    def add_verification(self, result: Mapping[str, Any]) -> CalibrationRecord:
        """Keep a verification with the calibration it checked (it goes into the report)."""
        with self._locked():
            cur = self.load()
            rec = cur.current
            if rec is None:
                raise CalibrationFileError("no committed calibration to attach a "
                                           "verification to")
            rec = replace(rec, verifications=(*rec.verifications, dict(result)))
            atomic_write(self.path, encode(replace(cur, history=(*cur.history[:-1], rec))))
            return rec

    # -- the draft (so a calibration survives a core restart between steps) ---------
    def load_draft(self) -> Draft | None:
        try:
            doc = json.loads(self.draft_path.read_bytes())
            return Draft.from_dict(doc)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a draft is cheap to redo; never let it block the rig

    def save_draft(self, draft: Draft) -> None:
        with self._locked():
            self._clean_temps()
            data = json.dumps(draft.to_dict(), indent=1, allow_nan=False).encode()
            atomic_write(self.draft_path, data)

    def clear_draft(self) -> None:
        with self._locked(), contextlib.suppress(FileNotFoundError):
            self.draft_path.unlink()


@dataclass(frozen=True)
class Applied:
    """What the estimator uses: working zero, scale and reference zero per mount."""

    source: str  # "state", "factory" or "config"
    version: int  # 0 for the config's defaults
    offsets: tuple[float, ...]
    scales: tuple[float, ...]
    reference: tuple[float, ...]
    uncalibrated: tuple[str, ...] = ()  # mounts the calibration does not know
    tare_at: str | None = None

    def describe(self) -> str:
        if self.source == "config":
            return "config defaults (not calibrated)"
        what = f"{self.source} calibration v{self.version}"
        if self.tare_at:
            what += f", re-tared {self.tare_at}"
        if self.uncalibrated:
            what += f"; NOT calibrated: {', '.join(self.uncalibrated)}"
        return what


def resolve(mount_names: Sequence[str], defaults: Mapping[str, tuple[float, float]],
            cal: CalibrationFile | None, source: str) -> Applied:
    """Per-mount values from a calibration file, the config's defaults where it has none."""
    rec = cal.current if cal is not None else None
    if cal is None or rec is None:
        offs = tuple(defaults[m][0] for m in mount_names)
        return Applied("config", 0, offs, tuple(defaults[m][1] for m in mount_names), offs)
    tare = cal.active_tare()
    offsets: list[float] = []
    scales: list[float] = []
    ref: list[float] = []
    missing: list[str] = []
    for m in mount_names:
        mc = rec.mounts.get(m)
        if mc is None:
            missing.append(m)
            o, s = defaults[m]
            offsets.append(o)
            scales.append(s)
            ref.append(o)
            continue
        ref.append(mc.offset)
        scales.append(mc.scale)
        offsets.append(tare.offsets.get(m, mc.offset) if tare is not None else mc.offset)
    return Applied(source, rec.version, tuple(offsets), tuple(scales), tuple(ref),
                   tuple(missing), tare.at if tare is not None else None)
