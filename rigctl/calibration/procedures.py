"""Calibration and weigh-in procedures against a live core (the imperative shell).

The loop thread does one O(1) thing for them: while a capture is armed, each
tick appends the estimator's newest raw counts, bar load and fault flags to a
list (``_Recorder``). Everything else (waiting, statistics, fitting, files)
runs in the caller's thread: the CLI, or the core's socket server for the API.
A new calibration reaches the loop through ``Core.call``, so the estimator
only ever sees one thread.

Procedures are exclusive (one capture at a time) and the installer ones are
refused while a session is active: a calibration must never change under a
client.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rigctl.calibration.fit import (
    MIN_KNOWN_KG,
    CalibrationRefused,
    FitLimits,
    FitResult,
    Point,
    bar_shares,
    fit_all,
    verify_error,
)
from rigctl.calibration.stability import Window, dedupe, last_window, median3_filter
from rigctl.calibration.startup import config_defaults, load_startup
from rigctl.calibration.store import (
    Applied,
    CalibrationFileError,
    CalibrationStore,
    Draft,
    MountCalibration,
    resolve,
    utc_now,
)
from rigctl.config import CalibrationSection, Config
from rigctl.core.estimator import IMPLAUSIBLE, READ_ERROR, SATURATED, TIMING, Estimator
from rigctl.core.runtime import Core
from rigctl.sampling.slots import SAT_HIGH

log = logging.getLogger(__name__)

#: (fraction done 0..1, what is happening) for progress bars
Progress = Callable[[float, str], None]

POLL_S = 0.05


class CalibrationBusy(RuntimeError):
    """Another capture is running; the message names it."""


# one record per loop tick: (t_ns, raw per mount, bar kg, mount faults or None)
_Record = tuple[int, tuple[float | None, ...], float, tuple[str | None, ...] | None]


class _Recorder:
    """Loop-thread side of a capture: an append per tick while armed, nothing otherwise."""

    def __init__(self, est: Estimator) -> None:
        self.est = est
        self.buf: list[_Record] | None = None

    def __call__(self, now_ns: int) -> None:
        buf = self.buf
        if buf is not None:
            est = self.est
            buf.append((now_ns, tuple(est.last_raw), est.bar_kg,
                        tuple(est.mount_fault) if est.faulted else None))


@dataclass(frozen=True)
class _Series:
    """One mount's samples in a capture, de-duplicated and median-of-3 filtered."""

    ts: list[int]
    values: list[float]


def _no_progress(_f: float, _m: str) -> None:
    return None


class Calibrator:
    """Tare, points, fit and commit, verify, re-tare and weigh-in on one core."""

    def __init__(self, core: Core, state_dir: Path, applied: Applied | None = None) -> None:
        self.core = core
        self.store = CalibrationStore(state_dir)
        self.names = core.config.mount_names
        self.limits = FitLimits(self.rules.residual_tolerance_kg, self.rules.scale_ratio_min,
                                self.rules.scale_ratio_max)
        est = core.controller.estimator
        if applied is None:  # what the core should be using; make sure it does
            applied = load_startup(core.config, state_dir)
            if (list(applied.offsets), list(applied.scales),
                    list(applied.reference)) != (est.offsets, est.scales, est.reference_offsets):
                self._apply(applied)
        self.applied = applied
        self._rec = _Recorder(est)
        core.on_tick(self._rec)
        self._busy = threading.Lock()
        self.doing: str | None = None

    @property
    def cfg(self) -> Config:
        """The core's config now (rig settings from the API may replace it)."""
        return self.core.config

    @property
    def rules(self) -> CalibrationSection:
        return self.core.config.calibration

    # -- bookkeeping -------------------------------------------------------------
    def _begin(self, what: str, installer_step: bool = True) -> None:
        if not self._busy.acquire(blocking=False):
            raise CalibrationBusy(f"busy: a {self.doing or 'capture'} is running; try again "
                                  "when it has finished")
        self.doing = what
        if installer_step and self.core.controller.session is not None:
            self._end()
            raise self._session_refusal(what)

    @staticmethod
    def _session_refusal(what: str) -> CalibrationRefused:
        return CalibrationRefused(f"{what} refused: a session is active; stop it first "
                                  "(calibration never changes under a client)")

    def _check_no_session(self, what: str) -> None:
        """Again just before saving: a session may have started during the capture."""
        if self.core.controller.session is not None:
            raise self._session_refusal(what)

    def _end(self) -> None:
        self.doing = None
        self._busy.release()

    def _index(self, mount: str) -> int:
        try:
            return self.names.index(mount)
        except ValueError:
            raise CalibrationRefused(f"unknown mount '{mount}'; the rig has "
                                     f"{', '.join(self.names)}") from None

    def _check_kg(self, mount: str, known_kg: float) -> None:
        cap = self.cfg.mounts[mount].capacity_kg
        if not MIN_KNOWN_KG <= known_kg <= cap:
            raise CalibrationRefused(f"known_kg {known_kg:g} is outside the allowed range "
                                     f"{MIN_KNOWN_KG:g}-{cap:g} kg (capacity of {mount})")

    def _scale(self, i: int) -> float:
        return abs(self.applied.scales[i]) or 1.0

    def _apply(self, applied: Applied) -> None:
        est = self.core.controller.estimator

        def swap(_now: int) -> None:
            if self.core.controller.session is not None:  # loop thread: no start can slip in
                raise self._session_refusal("applying the calibration")
            est.set_calibration(applied.offsets, applied.scales, applied.reference)

        if self.core.loop.running:
            self.core.call(swap)
        else:  # before start: nobody else touches the estimator yet
            swap(0)
        self.applied = applied
        log.info("calibration: now using %s", applied.describe())

    # -- capturing -----------------------------------------------------------------
    def _counts(self) -> list[dict[str, int]]:
        return [dict(c) for c in self.core.controller.estimator.fault_counts]

    def _capture(self, until: Callable[[list[_Record]], bool], timeout_s: float) -> list[_Record]:
        """Record ticks until ``until(records)`` is true or the timeout passes."""
        buf: list[_Record] = []
        self._rec.buf = buf
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                time.sleep(POLL_S)
                if not self.core.loop.running:
                    raise CalibrationRefused("the control loop is not running")
                if until(buf) or time.monotonic() >= deadline:
                    return list(buf)
        finally:
            self._rec.buf = None

    @staticmethod
    def _series(records: Sequence[_Record], i: int) -> _Series:
        ts, xs = dedupe([r[0] for r in records], [r[1][i] for r in records])
        return _Series(ts, median3_filter(xs))

    @staticmethod
    def _tail(records: Sequence[_Record], window_ns: int) -> Sequence[_Record]:
        """The records of the last window (plus a few ticks for the median's warm-up)."""
        if not records:
            return records
        start = records[-1][0] - window_ns - 20_000_000
        k = bisect.bisect_left(records, start, key=lambda r: r[0])
        return records[k:]

    @staticmethod
    def _elapsed_ns(records: Sequence[_Record]) -> int:
        return records[-1][0] - records[0][0] if len(records) > 1 else 0

    def _sample_faults(self, records: Sequence[_Record], before: list[dict[str, int]],
                       mounts: Sequence[int], saturation_is_fault: bool) -> dict[int, str]:
        """Faults a calibration reading cannot accept, per mount index (not ``implausible``:
        that rule judges a calibration, and here the calibration is what is being made)."""
        after = self._counts()
        out: dict[int, str] = {}
        for i in mounts:
            kinds = [TIMING, READ_ERROR] + ([SATURATED] if saturation_is_fault else [])
            for k in kinds:
                if after[i][k] > before[i][k]:
                    out[i] = {TIMING: "timing violation", READ_ERROR: "read error",
                              SATURATED: "saturated"}[k]
            for r in records:
                f = r[3][i] if r[3] is not None else None
                if f is not None and f != IMPLAUSIBLE and (saturation_is_fault
                                                           or f != SATURATED):
                    out[i] = f
                    break
        return out

    def _fault_text(self, faults: dict[int, str]) -> str:
        return ", ".join(f"{self.names[i]} ({f})" for i, f in sorted(faults.items()))

    def _collect_zero(self, what: str, progress: Progress) -> dict[int, tuple[_Series, float]]:
        """1 s (``tare_s``) with nobody on the bars: per mount (series, spread kg), checked."""
        seconds = self.rules.tare_s
        window_ns = int(seconds * 1e9)
        before = self._counts()

        def done(buf: list[_Record]) -> bool:
            el = self._elapsed_ns(buf)
            progress(min(1.0, el / window_ns), f"{what}: collecting samples")
            return el >= window_ns

        records = self._capture(done, seconds + 2.0)
        if self._elapsed_ns(records) < window_ns:
            raise CalibrationRefused(f"{what} refused: the loop delivered too few ticks")
        everyone = range(len(self.names))
        faults = self._sample_faults(records, before, everyone, saturation_is_fault=True)
        if faults:
            raise CalibrationRefused(f"{what} refused: faulted samples on "
                                     f"{self._fault_text(faults)}; fix the sensor first")
        out: dict[int, tuple[_Series, float]] = {}
        wide: list[str] = []
        for i in everyone:
            s = self._series(records, i)
            if len(s.values) < 3:
                raise CalibrationRefused(f"{what} refused: {self.names[i]} gave "
                                         f"{len(s.values)} samples in {seconds:g} s")
            spread = (max(s.values) - min(s.values)) / self._scale(i)
            if spread > self.rules.tare_spread_kg:
                wide.append(f"{self.names[i]} {spread:.2f} kg")
            out[i] = (s, spread)
        if wide:
            raise CalibrationRefused(
                f"{what} refused: spread too wide ({', '.join(wide)}; limit "
                f"{self.rules.tare_spread_kg:g} kg over {seconds:g} s): nobody may touch "
                "the bars and nothing may hang from them; wait until they are still")
        progress(1.0, f"{what}: done")
        return out

    def _collect_stable(self, mounts: Sequence[int], what: str,
                        progress: Progress) -> tuple[dict[int, Window], bool]:
        """Wait for a still reading (``point_s`` window under ``point_spread_kg``) on mounts.

        Returns the windows and whether a sample saturated (a saturated point is
        kept, so the installer sees it in the fit, and refused at commit).
        """
        r = self.rules
        window_ns = int(r.point_s * 1e9)
        before = self._counts()
        state: dict[str, Any] = {"best": None, "windows": None}

        def done(buf: list[_Record]) -> bool:
            if len(buf) < 2:
                return False
            el = self._elapsed_ns(buf)
            if self._sample_faults(buf[-10:], before, mounts, saturation_is_fault=False):
                return True
            if any(self.core.controller.estimator.fault_counts[i][SATURATED]
                   > before[i][SATURATED] for i in mounts):
                return el >= window_ns
            wins: dict[int, Window] = {}
            worst = 0.0
            tail = self._tail(buf, window_ns)
            for i in mounts:
                s = self._series(tail, i)
                w = last_window(s.ts, s.values, window_ns)
                if w is None:
                    progress(min(0.99, el / window_ns), f"{what}: collecting samples")
                    return False
                wins[i] = w
                worst = max(worst, w.spread / self._scale(i))
            if state["best"] is None or worst < state["best"]:
                state["best"] = worst
            if worst < r.point_spread_kg:
                state["windows"] = wins
                progress(1.0, f"{what}: still (spread {worst:.2f} kg)")
                return True
            progress(0.99, f"{what}: waiting for a still reading (spread {worst:.2f} kg)")
            return False

        records = self._capture(done, r.settle_timeout_s)
        faults = self._sample_faults(records, before, mounts, saturation_is_fault=False)
        if faults:
            raise CalibrationRefused(f"{what} refused: {self._fault_text(faults)}; fix the "
                                     "sensor first")
        saturated = any(self.core.controller.estimator.fault_counts[i][SATURATED]
                        > before[i][SATURATED] for i in mounts)
        if saturated:
            wins = {}
            for i in mounts:
                s = self._series(self._tail(records, window_ns), i)
                w = last_window(s.ts, s.values, window_ns) if s.values else None
                wins[i] = w or Window(0, 0, 0, float(SAT_HIGH), 0.0)  # no good sample
            return wins, True
        if state["windows"] is None:
            best = state["best"]
            spread = f"spread {best:.2f} kg" if best is not None else "no full window"
            raise CalibrationRefused(
                f"{what} refused: not stable: {spread} over {r.point_s:g} s within "
                f"{r.settle_timeout_s:g} s (limit {r.point_spread_kg:g} kg): stop the weight "
                "swinging, make sure nothing touches it, and try again")
        wins = state["windows"]
        assert isinstance(wins, dict)
        return wins, False

    # -- installer procedures --------------------------------------------------------
    def tare(self, progress: Progress = _no_progress) -> dict[str, Any]:
        """Start a new calibration: the zero of every mount, nobody on the bars."""
        self._begin("tare")
        try:
            zero = self._collect_zero("tare", progress)
            at = utc_now()
            pts = tuple(Point(self.names[i], 0.0, sum(s.values) / len(s.values),
                              max(s.values) - min(s.values), len(s.values), False, "tare", at)
                        for i, (s, _sp) in sorted(zero.items()))
            self.store.save_draft(Draft(at, pts))
            log.info("calibration: tare taken, new calibration started")
            return {"started_at": at, "mounts": {
                self.names[i]: {"raw": round(p.raw, 1), "spread_kg": round(zero[i][1], 4),
                                "n": p.n} for i, p in enumerate(pts)}}
        finally:
            self._end()

    def _draft(self) -> Draft:
        d = self.store.load_draft()
        if d is None:
            raise CalibrationRefused("no calibration in progress: start with a tare "
                                     "(nobody on the bars)")
        return d

    def add_point(self, mount: str, known_kg: float,
                  progress: Progress = _no_progress) -> dict[str, Any]:
        """A known weight hanging on one mount now."""
        i = self._index(mount)
        self._check_kg(mount, known_kg)
        return self._points({i: known_kg}, "mount", f"point {known_kg:g} kg on {mount}",
                             progress)

    def add_bar_point(self, bar: str, known_kg: float, position: float = 0.5,
                      progress: Progress = _no_progress) -> dict[str, Any]:
        """A known weight hanging on a bar, shared by its mounts by the lever rule."""
        mounts = [n for n, m in self.cfg.mounts.items() if m.bar == bar]
        if not mounts:
            bars = sorted({m.bar for m in self.cfg.mounts.values()})
            raise CalibrationRefused(f"unknown bar '{bar}'; the rig has bars {', '.join(bars)}")
        shares = bar_shares(mounts, known_kg, position)
        for m, kg in shares.items():
            if kg > 0:
                self._check_kg(m, kg)
        loads = {self._index(m): kg for m, kg in shares.items() if kg > 0}
        return self._points(loads, "bar", f"point {known_kg:g} kg on bar {bar}", progress)

    def _points(self, loads: dict[int, float], kind: str, what: str,
                progress: Progress) -> dict[str, Any]:
        self._begin(what)
        try:
            draft = self._draft()
            wins, saturated = self._collect_stable(list(loads), what, progress)
            at = utc_now()
            new: list[Point] = []
            warnings: list[str] = []
            tare = {p.mount: p.raw for p in draft.points if p.kind == "tare"}
            for i, kg in loads.items():
                name = self.names[i]
                w = wins[i]
                new.append(Point(name, kg, w.mean, w.spread, w.n, saturated,
                                 "bar" if kind == "bar" else "mount", at))
                nominal = self.cfg.mounts[name].scale
                if not saturated and name in tare:
                    reads = (w.mean - tare[name]) / nominal
                    ratio = reads / kg
                    if not self.limits.scale_ratio_min <= ratio <= self.limits.scale_ratio_max:
                        warnings.append(f"{name} reads {reads:.2f} kg with the configured "
                                        f"scale for {kg:g} kg: is the weight on {name}?")
            keep = [p for p in draft.points
                    if not any(p.mount == q.mount and p.kind != "tare"
                               and abs(p.known_kg - q.known_kg) < 1e-9 for q in new)]
            self.store.save_draft(Draft(draft.started_at, tuple(keep) + tuple(new)))
            preview = self._fit(Draft(draft.started_at, tuple(keep) + tuple(new)))
            return {"points": [p.to_dict() for p in new], "saturated": saturated,
                    "warnings": warnings,
                    "fit": {self.names[i]: preview.mounts[self.names[i]].to_dict()
                            for i in loads}}
        finally:
            self._end()

    def _fit(self, draft: Draft) -> FitResult:
        return fit_all(draft.points, {n: m.scale for n, m in self.cfg.mounts.items()},
                       self.limits)

    def preview(self) -> dict[str, Any]:
        """The fit of the calibration in progress, problems included (nothing changes)."""
        return self._fit(self._draft()).to_dict()

    def discard(self) -> None:
        self.store.clear_draft()

    def commit(self, installer: str) -> dict[str, Any]:
        """Fit, check, persist atomically and put the new calibration in force."""
        installer = installer.strip()
        if not 1 <= len(installer) <= 80:
            raise CalibrationRefused("installer: a name of 1-80 characters is required "
                                     "(it goes into the calibration record)")
        self._begin("commit")
        try:
            draft = self._draft()
            fit = self._fit(draft)
            if not fit.ok:
                raise CalibrationRefused("commit refused: " + fit.all_problems[0]
                                         + (f" (and {len(fit.all_problems) - 1} more)"
                                            if len(fit.all_problems) > 1 else ""),
                                         fit.all_problems)
            mounts: dict[str, MountCalibration] = {}
            for name, mf in fit.mounts.items():
                assert mf.offset is not None and mf.scale is not None
                mounts[name] = MountCalibration(mf.offset, mf.scale, mf.points, mf.residuals_kg)
            self._check_no_session("commit")
            rec = self.store.commit(installer, self.cfg.rig.name, mounts)
            self.store.clear_draft()
            self._apply(resolve(self.names, config_defaults(self.cfg), self.store.load(),
                                "state"))
            log.info("calibration: v%d committed by %s", rec.version, installer)
            return {"version": rec.version, "committed_at": rec.committed_at,
                    "installer": rec.installer, "fit": fit.to_dict()}
        finally:
            self._end()

    def verify(self, known_kg: float, mount: str | None = None,
               progress: Progress = _no_progress) -> dict[str, Any]:
        """Hang a known weight on a mount (or anywhere, for the total): the error in kg and %."""
        if mount is not None:
            self._check_kg(mount, known_kg)
            idx = [self._index(mount)]
        else:
            if not MIN_KNOWN_KG <= known_kg <= sum(m.capacity_kg
                                                   for m in self.cfg.mounts.values()):
                raise CalibrationRefused(f"known_kg {known_kg:g} must be at least "
                                         f"{MIN_KNOWN_KG:g} kg and within the rig's capacity")
            idx = list(range(len(self.names)))
        what = f"verify {known_kg:g} kg" + (f" on {mount}" if mount else "")
        self._begin(what)
        try:
            wins, saturated = self._collect_stable(idx, what, progress)
            if saturated:
                raise CalibrationRefused(f"{what} refused: the amplifier saturated: use a "
                                         "lighter weight")
            a = self.applied
            measured = {self.names[i]: (wins[i].mean - a.offsets[i]) / a.scales[i] for i in idx}
            result: dict[str, Any] = {
                "at": utc_now(), "known_kg": known_kg, "mount": mount,
                "calibration_version": a.version, "calibration_source": a.source,
                "tolerance_pct": self.rules.verify_tolerance_pct,
            }
            if mount is not None:
                result["mounts"] = {mount: verify_error(known_kg, measured[mount])}
                err = result["mounts"][mount]["error_pct"]
            else:
                result["mounts"] = {m: {"measured_kg": round(v, 4)} for m, v in measured.items()}
                result["total"] = verify_error(known_kg, sum(measured.values()))
                err = result["total"]["error_pct"]
            result["pass"] = abs(err) <= self.rules.verify_tolerance_pct
            if a.source == "state":
                try:
                    self.store.add_verification(result)
                except CalibrationFileError as e:
                    log.warning("calibration: verification not recorded: %s", e)
            return result
        finally:
            self._end()

    def retare(self, progress: Progress = _no_progress) -> dict[str, Any]:
        """Re-zero for drift (empty bars): the working zero moves, the reference zero never."""
        self._begin("re-tare")
        try:
            cal = self.store.load()
            rec = cal.current
            if rec is None:
                raise CalibrationRefused("re-tare refused: no calibration committed on this "
                                         f"rig yet (using {self.applied.describe()}): "
                                         "calibrate first")
            zero = self._collect_zero("re-tare", progress)
            offsets: dict[str, float] = {}
            far: list[str] = []
            moved: dict[str, float] = {}
            for i, (s, _sp) in zero.items():
                name = self.names[i]
                mc = rec.mounts.get(name)
                if mc is None:
                    continue
                raw = sum(s.values) / len(s.values)
                kg = (raw - mc.offset) / mc.scale
                moved[name] = round(kg, 4)
                if abs(kg) > self.rules.retare_max_kg:
                    far.append(f"{name} reads {kg:+.2f} kg")
                offsets[name] = raw
            if far:
                raise CalibrationRefused(
                    f"re-tare refused: {', '.join(far)} from its calibrated zero (limit "
                    f"{self.rules.retare_max_kg:g} kg): take everything off the bars; if they "
                    "are empty, the cell has drifted or moved: calibrate again")
            self._check_no_session("re-tare")
            tare = self.store.set_tare(offsets)
            self._apply(resolve(self.names, config_defaults(self.cfg), self.store.load(),
                                "state"))
            return {"at": tare.at, "calibration_version": tare.version,
                    "moved_kg": moved, "reference_zero": {n: m.offset
                                                          for n, m in rec.mounts.items()}}
        finally:
            self._end()

    # -- clinic procedure ------------------------------------------------------------
    def weigh_in(self, progress: Progress = _no_progress) -> dict[str, Any]:
        """The therapist hangs fully from the bars: the still bar load is their weight."""
        r = self.rules
        window_ns = int(r.weigh_in_window_s * 1e9)
        self._begin("weigh-in", installer_step=False)
        try:
            state: dict[str, Any] = {"best": None, "found": None, "fault": None}

            def done(buf: list[_Record]) -> bool:
                for rec in buf[-12:]:
                    if rec[3] is not None:
                        state["fault"] = {self.names[i]: f for i, f in enumerate(rec[3])
                                          if f is not None}
                        return True
                tail = self._tail(buf, window_ns)
                ts, xs = dedupe([x[0] for x in tail], [x[2] for x in tail])
                w = last_window(ts, xs, window_ns)
                el = self._elapsed_ns(buf)
                if w is None:
                    progress(min(0.99, el / window_ns), "weigh-in: hang still")
                    return False
                best = state["best"]
                if w.spread < r.weigh_in_spread_kg and w.mean >= r.weigh_in_min_kg:
                    state["found"] = w
                    progress(1.0, f"weigh-in: {w.mean:.1f} kg")
                    return True
                if best is None or (w.spread, -w.mean) < (best.spread, -best.mean):
                    state["best"] = w
                progress(0.99, f"weigh-in: {w.mean:.1f} kg, spread {w.spread:.2f} kg")
                return False

            self._capture(done, r.weigh_in_timeout_s)
            if state["fault"]:
                what = ", ".join(f"{m} ({f})" for m, f in state["fault"].items())
                raise CalibrationRefused(f"weigh-in refused: sensor fault on {what}: every "
                                         "mount must work for a weigh-in")
            found: Window | None = state["found"]
            if found is None:
                best = state["best"]
                if best is None:
                    raise CalibrationRefused("weigh-in refused: no readings")
                if best.spread < r.weigh_in_spread_kg:
                    raise CalibrationRefused(
                        f"weigh-in refused: bar load {round(best.mean, 1) + 0.0:.1f} kg is below "
                        f"{r.weigh_in_min_kg:g} kg - hang fully from the bars with feet off "
                        "the table")
                raise CalibrationRefused(
                    f"weigh-in refused: not stable: spread {best.spread:.1f} kg - hang still "
                    "with feet off the table")
            return {"weight_kg": round(found.mean, 2), "spread_kg": round(found.spread, 3),
                    "window_s": r.weigh_in_window_s,
                    "calibration_version": self.applied.version}
        finally:
            self._end()

    # -- reading -----------------------------------------------------------------------
    def live(self) -> dict[str, Any]:
        """Newest reading per mount: raw counts and kg (from the draft's tare if one is open)."""
        est = self.core.controller.estimator
        draft = self.store.load_draft()
        tare = {p.mount: p.raw for p in draft.points if p.kind == "tare"} if draft else {}
        mounts = []
        for i, name in enumerate(self.names):
            raw = est.last_raw[i]
            zero = tare.get(name, self.applied.offsets[i])
            kg = None if raw is None else (raw - zero) / self.applied.scales[i]
            mounts.append({"name": name, "raw": raw,
                           "kg": None if kg is None else round(kg, 3),
                           "fault": est.mount_fault[i]})
        return {"mounts": mounts, "bar_kg": round(est.bar_kg, 3), "busy": self.doing}

    def status(self) -> dict[str, Any]:
        a = self.applied
        draft = self.store.load_draft()
        cal = self.store.load()
        cur = cal.current
        return {
            "in_force": {"source": a.source, "version": a.version, "describe": a.describe(),
                         "tare_at": a.tare_at, "uncalibrated": list(a.uncalibrated),
                         "mounts": {n: {"offset": a.offsets[i], "scale": a.scales[i],
                                        "reference_zero": a.reference[i]}
                                    for i, n in enumerate(self.names)}},
            "committed": None if cur is None else {
                "version": cur.version, "committed_at": cur.committed_at,
                "installer": cur.installer, "verifications": list(cur.verifications)},
            "draft": None if draft is None else {
                "started_at": draft.started_at,
                "points": [p.to_dict() for p in draft.points],
                "fit": self._fit(draft).to_dict()},
            "busy": self.doing,
        }

    def history(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.store.load().history]
