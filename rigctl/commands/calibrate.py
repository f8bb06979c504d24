"""``rigctl calibrate``: the installer's wizard, and one-step forms for scripts.

``rigctl calibrate`` alone walks an installer through a calibration in the
terminal: tare, known weights mount by mount (with a live reading and a
progress bar while samples are collected), the fit with its residuals, a
confirmation to commit, a verification, and the report to hand over.

The script forms do one step each and print one line (``--json`` for the
whole answer): ``tare``, ``point MOUNT KG``, ``bar-point BAR KG``,
``preview``, ``commit --installer NAME``, ``verify KG [--mount M]``,
``retare``, ``discard``, ``status``, ``history``, ``report``, ``weigh-in``.

Exit status: 0 done, 1 refused by a calibration rule (the reason is printed),
2 bad usage or config, 3 the rig is not reachable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import select
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from rigctl.calibration.client import Rig, RigUnavailable, open_rig
from rigctl.calibration.fit import MIN_KNOWN_KG
from rigctl.calibration.report import build_report, render_html
from rigctl.calibration.store import CalibrationFileError, CalibrationStore
from rigctl.config import Config, load_config
from rigctl.ipc.protocol import IpcError

REFUSED = 1
UNAVAILABLE = 3
DEFAULT_WEIGHTS = (10.0, 25.0)
DEFAULT_VERIFY_KG = 15.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                        help="config file (default: config/sim.toml)")
    common.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS,
                        help="state directory (default: ./state)")
    common.add_argument("--standalone", action="store_true", default=argparse.SUPPRESS,
                        help="drive the rig from this command (no rigctl core may be running)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the whole answer as JSON")
    p = sub.add_parser("calibrate", parents=[common],
                       help="calibrate the rig (wizard), or one calibration step for scripts",
                       description=__doc__.split("\n\n")[1] if __doc__ else None)
    csub = p.add_subparsers(dest="step", metavar="STEP")
    add = csub.add_parser
    add("wizard", parents=[common], help="the interactive wizard (the default)")
    add("status", parents=[common], help="the calibration in force and the one in progress")
    add("tare", parents=[common], help="start a calibration: 1 s of samples, bars empty")
    q = add("point", parents=[common], help="capture a known weight hanging on one mount")
    q.add_argument("mount")
    q.add_argument("kg", type=float)
    q = add("bar-point", parents=[common],
            help="capture a known weight hanging on a bar (shared by its two mounts)")
    q.add_argument("bar")
    q.add_argument("kg", type=float)
    q.add_argument("--position", type=float, default=0.5,
                   help="where on the bar, 0..1 from its first mount (default 0.5, the middle)")
    add("preview", parents=[common], help="the fit of the points so far, with residuals")
    q = add("commit", parents=[common], help="fit, check and put the calibration in force")
    q.add_argument("--installer", required=True, help="your name, for the record")
    q = add("verify", parents=[common], help="hang a known weight and see the error")
    q.add_argument("kg", type=float)
    q.add_argument("--mount", default=None, help="the mount it hangs on (default: whole rig)")
    add("retare", parents=[common], help="re-zero for drift (the reference zero stays)")
    add("discard", parents=[common], help="drop the calibration in progress")
    add("history", parents=[common], help="every committed calibration")
    q = add("report", parents=[common], help="write the report (JSON + HTML page)")
    q.add_argument("--version", type=int, default=None, help="default: the one in force")
    q.add_argument("--out", type=Path, default=None, help="directory (default: state dir)")
    add("weigh-in", parents=[common], help="weigh a therapist hanging from the bars")
    p.set_defaults(func=main, step=None)


def _opts(args: argparse.Namespace) -> tuple[Config, Path, bool, bool]:
    cfg = load_config(getattr(args, "config", None))
    return (cfg, getattr(args, "state_dir", Path("state")), getattr(args, "standalone", False),
            getattr(args, "json", False))


def main(args: argparse.Namespace) -> int:
    from rigctl.cli import UserError

    cfg, state_dir, standalone, as_json = _opts(args)
    if not getattr(args, "verbose", False):  # log lines would break up the wizard's screen
        logging.getLogger().setLevel(logging.WARNING)
    step = args.step or "wizard"
    try:
        if step == "history":
            return _print_json(CalibrationStore(state_dir).load().body()["history"]) \
                if as_json else _history(state_dir)
        if step == "report":
            return _report(cfg, state_dir, args.version, args.out, as_json)
        rig = open_rig(cfg, state_dir, standalone)
    except RigUnavailable as e:
        raise UserError(str(e), UNAVAILABLE) from None
    except CalibrationFileError as e:
        raise UserError(str(e), 2) from None
    try:
        if step == "wizard":
            return Wizard(rig, state_dir).run()
        return _step(rig, step, args, as_json)
    except IpcError as e:
        raise UserError(e.message, REFUSED if e.code == "conflict" else 2) from None
    except RigUnavailable as e:
        raise UserError(str(e), UNAVAILABLE) from None
    finally:
        rig.close()


# -- one-step forms ---------------------------------------------------------------------

def _print_json(obj: Any) -> int:
    print(json.dumps(obj, indent=1))
    return 0


def _hang_for_sim(rig: Rig, loads: dict[str, float]) -> None:
    # an unknown mount is for the core to refuse, with its one-line message
    if rig.is_sim and set(loads) <= set(rig.config.mounts):
        what = ", ".join(f"{kg:g} kg on {m}" for m, kg in loads.items()) or "nothing"
        print(f"[sim] hanging {what}", flush=True)
        rig.hang(loads)


def _step(rig: Rig, step: str, args: argparse.Namespace, as_json: bool) -> int:
    cfg = rig.config
    res: Any
    if step == "status":
        res = rig.call("calibration.status")
        if not as_json:
            print(f"in force: {res['in_force']['describe']}")
            d = res["draft"]
            print("in progress: " + ("nothing" if d is None else
                                      f"started {d['started_at']}, {len(d['points'])} points"))
    elif step == "tare":
        _hang_for_sim(rig, {})
        res = rig.call("calibration.tare")
        if not as_json:
            print("tare done: " + ", ".join(f"{m} {v['raw']:,.0f} counts (spread "
                                            f"{v['spread_kg']:.2f} kg)"
                                            for m, v in res["mounts"].items()))
    elif step in ("point", "bar-point"):
        if step == "point":
            _hang_for_sim(rig, {args.mount: args.kg})
            res = rig.call("calibration.point", {"mount": args.mount, "known_kg": args.kg})
        else:
            from rigctl.calibration.fit import bar_shares

            mounts = [n for n, m in cfg.mounts.items() if m.bar == args.bar]
            if rig.is_sim and mounts:
                _hang_for_sim(rig, bar_shares(mounts, args.kg, args.position))
            res = rig.call("calibration.bar_point", {"bar": args.bar, "known_kg": args.kg,
                                                     "position": args.position})
        if not as_json:
            for p in res["points"]:
                print(f"point: {p['mount']} {p['known_kg']:g} kg = {p['raw']:,.1f} counts"
                      + (" SATURATED" if p["saturated"] else ""))
            for w in res["warnings"]:
                print(f"warning: {w}")
        if rig.is_sim:
            _hang_for_sim(rig, {})
    elif step == "preview":
        res = rig.call("calibration.preview")
        if not as_json:
            print(fit_table(res, cfg.calibration.residual_tolerance_kg))
        if not res["ok"]:
            if as_json:
                _print_json(res)
            return REFUSED
    elif step == "commit":
        res = rig.call("calibration.commit", {"installer": args.installer})
        if not as_json:
            print(f"committed calibration v{res['version']} by {res['installer']} at "
                  f"{res['committed_at']}")
    elif step == "verify":
        if args.mount:
            _hang_for_sim(rig, {args.mount: args.kg})
        elif rig.is_sim:
            n = len(cfg.mounts)
            _hang_for_sim(rig, {m: args.kg / n for m in cfg.mount_names})
        res = rig.call("calibration.verify", {"known_kg": args.kg, "mount": args.mount})
        if rig.is_sim:
            _hang_for_sim(rig, {})
        if not as_json:
            print(verify_line(res))
        if not res["pass"]:
            if as_json:
                _print_json(res)
            return REFUSED
    elif step == "retare":
        _hang_for_sim(rig, {})
        res = rig.call("calibration.retare")
        if not as_json:
            print("re-tared (reference zero unchanged): " + ", ".join(
                f"{m} {kg:+.3f} kg" for m, kg in res["moved_kg"].items()))
    elif step == "discard":
        res = rig.call("calibration.discard")
        if not as_json:
            print("calibration in progress discarded")
    elif step == "weigh-in":
        res = rig.call("weigh_in")
        if not as_json:
            print(f"weight {res['weight_kg']:.2f} kg (spread {res['spread_kg']:.2f} kg)")
    else:  # pragma: no cover - argparse only lets known steps through
        raise AssertionError(step)
    if as_json:
        _print_json(res)
    return 0


def verify_line(res: dict[str, Any]) -> str:
    e = res["mounts"][res["mount"]] if res.get("mount") else res["total"]
    where = res.get("mount") or "whole rig"
    return (f"verify {where}: known {e['known_kg']:g} kg, measured {e['measured_kg']:.3f} kg, "
            f"error {e['error_kg']:+.3f} kg ({e['error_pct']:+.3f} %) - "
            + ("pass" if res["pass"] else f"FAIL (over {res['tolerance_pct']:g} %)"))


def fit_table(fit: dict[str, Any], tolerance_kg: float) -> str:
    """The fit per mount: zero, scale, and the residual at every point."""
    lines = [f"{'mount':<14} {'zero (counts)':>14} {'scale (c/kg)':>13}  residuals kg at known "
             "loads"]
    for name, m in fit["mounts"].items():
        zero = "-" if m["offset"] is None else f"{m['offset']:,.1f}"
        scale = "-" if m["scale"] is None else f"{m['scale']:,.1f}"
        res = []
        for p, r in zip(m["points"], m["residuals_kg"], strict=True):
            val = "SAT" if p["saturated"] else "-" if r is None else f"{r:+.3f}"
            res.append(f"{p['known_kg']:g}:{val}")
        lines.append(f"{name:<14} {zero:>14} {scale:>13}  {'  '.join(res)}")
    if fit["ok"]:
        lines.append(f"every residual is within the {tolerance_kg:g} kg tolerance")
    else:
        lines.append("problems:")
        lines += [f"  - {p}" for p in fit["problems"]]
    return "\n".join(lines)


def _history(state_dir: Path) -> int:
    cal = CalibrationStore(state_dir).load()
    if not cal.history:
        print("no calibration has been committed in " + str(state_dir))
    for r in cal.history:
        mark = " (in force)" if r is cal.current else ""
        print(f"v{r.version}  {r.committed_at}  {r.installer}  {len(r.mounts)} mounts, "
              f"{len(r.verifications)} verifications{mark}")
    return 0


def write_report(cfg: Config, state_dir: Path, version: int | None,
                 out: Path | None) -> tuple[Path, Path]:
    rep = build_report(CalibrationStore(state_dir).load(), cfg, version)
    out = out or state_dir
    out.mkdir(parents=True, exist_ok=True)
    v = rep["calibration"]["version"]
    jp, hp = out / f"calibration-v{v}.json", out / f"calibration-v{v}.html"
    jp.write_text(json.dumps(rep, indent=1) + "\n")
    hp.write_text(render_html(rep))
    return jp, hp


def _report(cfg: Config, state_dir: Path, version: int | None, out: Path | None,
            as_json: bool) -> int:
    from rigctl.cli import UserError

    try:
        jp, hp = write_report(cfg, state_dir, version, out)
    except LookupError as e:
        raise UserError(str(e.args[0]), REFUSED) from None
    if as_json:
        return _print_json({"json": str(jp), "html": str(hp)})
    print(f"report: {hp} (for people) and {jp} (for machines)")
    return 0


# -- the wizard -----------------------------------------------------------------------

class Quit(Exception):
    """The installer asked to stop."""


class Term:
    """Prompts, a live reading while waiting for Enter, and progress bars (ANSI)."""

    def __init__(self, inp: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
        self.inp = inp
        self.out = out
        self.tty = inp.isatty() and out.isatty()

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def ask(self, prompt: str, default: str | None = None) -> str:
        shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
        self.out.write(shown)
        self.out.flush()
        line = self.inp.readline()
        if not line:
            raise Quit("input ended")
        ans = line.strip()
        if ans.lower() in ("q", "quit"):
            raise Quit("stopped by the installer")
        return ans or (default or "")

    @contextlib.contextmanager
    def _cbreak(self) -> Iterator[None]:
        fd = self.inp.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            yield
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def wait_enter(self, prompt: str, live: Callable[[], str]) -> str:
        """Show ``prompt`` and a live reading that updates until Enter; return what was typed."""
        if not self.tty:
            return self.ask(prompt + " (Enter)")
        self.say(prompt)
        typed = ""
        with self._cbreak():
            while True:
                try:
                    reading = live()
                except (IpcError, RigUnavailable) as e:
                    reading = f"(no reading: {e})"
                self.out.write(f"\r\x1b[K  {reading}  > {typed}")
                self.out.flush()
                r, _, _ = select.select([self.inp], [], [], 0.25)
                if not r:
                    continue
                ch = os.read(self.inp.fileno(), 1).decode(errors="replace")
                if ch in ("\r", "\n"):
                    break
                if ch in ("\x7f", "\b"):
                    typed = typed[:-1]
                elif ch == "\x04":
                    raise Quit("input ended")
                elif ch.isprintable():
                    typed += ch
        self.say()
        if typed.strip().lower() in ("q", "quit"):
            raise Quit("stopped by the installer")
        return typed.strip()

    def progress(self, label: str, fn: Callable[[], Any], expected_s: float,
                 live: Callable[[], str]) -> Any:
        """Run ``fn`` (blocking) in a thread while a bar fills and the reading updates."""
        box: list[tuple[bool, Any]] = []

        def work() -> None:
            try:
                box.append((True, fn()))
            except BaseException as e:
                box.append((False, e))

        t = threading.Thread(target=work, daemon=True)
        t0 = time.monotonic()
        t.start()
        width = 24
        while t.is_alive():
            t.join(0.1)
            el = time.monotonic() - t0
            frac = min(el / expected_s, 1.0)
            filled = int(frac * width)
            label_now = f"{label}: waiting for a still reading" if el > expected_s else label
            try:
                reading = live()
            except (IpcError, RigUnavailable):
                reading = ""
            bar = "#" * filled + "." * (width - filled)
            if self.tty:
                self.out.write(f"\r\x1b[K  [{bar}] {el:4.1f} s  {label_now}  {reading}")
                self.out.flush()
        if self.tty:
            self.out.write(f"\r\x1b[K  [{'#' * width}] {time.monotonic() - t0:4.1f} s  "
                           f"{label}\n")
        else:
            self.say(f"  [{'#' * width}] {label}")
        ok, value = box[0]
        if not ok:
            raise value
        return value


class Wizard:
    """The installer's calibration, step by step."""

    def __init__(self, rig: Rig, state_dir: Path, term: Term | None = None) -> None:
        self.rig = rig
        self.cfg = rig.config
        self.state_dir = state_dir
        self.t = term or Term()

    # -- readings -------------------------------------------------------------------
    def reading(self, mounts: Sequence[str] | None = None) -> str:
        live = self.rig.live()
        parts = []
        for m in live["mounts"]:
            if mounts is not None and m["name"] not in mounts:
                continue
            kg = "---" if m["kg"] is None else f"{m['kg']:7.2f} kg"
            fault = f" ({m['fault']})" if m["fault"] else ""
            parts.append(f"{m['name']} {kg}{fault}")
        return "  ".join(parts)

    def _retry(self, what: str, e: IpcError) -> bool:
        self.t.say(f"  refused: {e.message}")
        ans = self.t.ask(f"  Try the {what} again? (y = again, s = skip, q = quit)", "y")
        return ans.lower().startswith("y")

    # -- steps ----------------------------------------------------------------------------
    def run(self) -> int:
        t = self.t
        try:
            return self._run()
        except Quit as e:
            t.say(f"\nstopped: {e}. Nothing was committed unless it said so above; the "
                  "points captured so far are kept for `rigctl calibrate` to continue "
                  "(`rigctl calibrate discard` drops them).")
            return REFUSED

    def _run(self) -> int:
        t, cfg = self.t, self.cfg
        status = self.rig.call("calibration.status")
        t.say(f"rigctl calibrate - rig '{cfg.rig.name}' ({cfg.rig.backend} backend) through "
              f"{self.rig.where}")
        t.say("mounts: " + ", ".join(f"{n} (bar {m.bar}, {m.capacity_kg:g} kg)"
                                      for n, m in cfg.mounts.items()))
        t.say(f"in force now: {status['in_force']['describe']}")
        t.say("You need two or more known weights (certified, or weighed on a scale you trust; "
              "e.g. 10 kg and 25 kg), a strap or hook to hang them from each mount, and about "
              "10 minutes. Type q at any prompt to stop.")
        if self.rig.is_sim:
            t.say("[sim] this is the simulated rig: it hangs each weight for you when you "
                  "press Enter.")
        t.say()
        installer = ""
        while not installer:
            installer = self.t.ask("Your name (goes into the calibration record)")
            if len(installer) > 80:
                t.say("  at most 80 characters")
                installer = ""
        weights = self._ask_weights()
        self._tare()
        for name in cfg.mount_names:
            for kg in weights:
                self._point(name, kg)
            self._unhang(f"Take the weight off {name}.")
        if not self._fit_and_commit(installer):
            return REFUSED
        self._verify(weights)
        jp, hp = write_report(cfg, self.state_dir, None, None)
        t.say(f"\nReport: {hp}\n        {jp}\nGive the HTML page to the clinic (print it or "
              "mail it): it shows every point, the fitted lines, the residuals and the "
              "verification.")
        return 0

    def _ask_weights(self) -> list[float]:
        default = " ".join(f"{w:g}" for w in DEFAULT_WEIGHTS)
        cap = min(m.capacity_kg for m in self.cfg.mounts.values())
        while True:
            ans = self.t.ask("Known weights you will hang, in kg, separated by spaces", default)
            try:
                ws = sorted({float(x) for x in ans.replace(",", " ").split()})
            except ValueError:
                self.t.say("  numbers please, e.g. 10 25")
                continue
            if len(ws) < 2:
                self.t.say("  at least 2 different weights are needed")
            elif not all(MIN_KNOWN_KG <= w <= cap for w in ws):
                self.t.say(f"  each weight must be {MIN_KNOWN_KG:g}-{cap:g} kg (at most the "
                           "smallest mount capacity)")
            else:
                return ws

    def _unhang(self, text: str) -> None:
        if self.rig.is_sim:
            self.rig.hang({})
        else:
            self.t.say(text)

    def _tare(self) -> None:
        t = self.t
        t.say("\nStep 1 of 4 - tare: take everything off the bars; nobody may touch them.")
        while True:
            if self.rig.is_sim:
                self.rig.hang({})
            t.wait_enter("Press Enter when the bars are empty and still.", self.reading)
            try:
                res = t.progress("tare", lambda: self.rig.call("calibration.tare"),
                                 self.cfg.calibration.tare_s, self.reading)
            except IpcError as e:
                if self._retry("tare", e):
                    continue
                raise Quit("a calibration needs a tare") from None
            for m, v in res["mounts"].items():
                t.say(f"  {m}: zero {v['raw']:,.0f} counts, spread {v['spread_kg']:.3f} kg")
            return

    def _point(self, mount: str, kg: float) -> None:
        t = self.t
        t.say(f"\nStep 2 of 4 - hang {kg:g} kg on {mount}.")
        while True:
            if self.rig.is_sim:
                self.rig.hang({mount: kg})
            ans = t.wait_enter(f"Hang {kg:g} kg on {mount}, let it settle, press Enter "
                               "(s = skip this weight).", lambda: self.reading([mount]))
            if ans.lower() == "s":
                t.say("  skipped")
                return
            try:
                res = t.progress(f"{kg:g} kg on {mount}",
                                 lambda: self.rig.call("calibration.point",
                                                       {"mount": mount, "known_kg": kg}),
                                 self.cfg.calibration.point_s, lambda: self.reading([mount]))
            except IpcError as e:
                if self._retry(f"{kg:g} kg point", e):
                    continue
                return
            for p in res["points"]:
                sat = "  SATURATED: use a lighter weight" if p["saturated"] else ""
                t.say(f"  {mount} {kg:g} kg: {p['raw']:,.1f} counts{sat}")
            for w in res["warnings"]:
                t.say(f"  warning: {w}")
            return

    def _fit_and_commit(self, installer: str) -> bool:
        t = self.t
        tol = self.cfg.calibration.residual_tolerance_kg
        while True:
            fit = self.rig.call("calibration.preview")
            t.say("\nStep 3 of 4 - the fit (raw = zero + scale x kg, least squares):")
            t.say(fit_table(fit, tol))
            if fit["ok"]:
                break
            ans = t.ask("Re-capture a point? Type 'MOUNT KG' (e.g. bar_a_left 10), or q to stop")
            parts = ans.split()
            if len(parts) == 2 and parts[0] in self.cfg.mounts:
                try:
                    kg = float(parts[1])
                except ValueError:
                    continue
                self._point(parts[0], kg)
                self._unhang(f"Take the weight off {parts[0]}.")
        ans = t.ask(f"Commit this calibration in the name of {installer}? (y/n)", "n")
        if not ans.lower().startswith("y"):
            t.say("not committed; the points are kept (rigctl calibrate preview / commit).")
            return False
        try:
            res = self.rig.call("calibration.commit", {"installer": installer})
        except IpcError as e:
            t.say(f"  refused: {e.message}")
            return False
        t.say(f"Committed: calibration v{res['version']}, in force now.")
        return True

    def _verify(self, weights: Sequence[float]) -> None:
        t = self.t
        t.say("\nStep 4 of 4 - verify with a known weight (best one you did not calibrate with).")
        default = f"{DEFAULT_VERIFY_KG:g}" if DEFAULT_VERIFY_KG not in weights else ""
        ans = t.ask("Verification weight in kg (empty = skip)", default or None)
        if not ans:
            t.say("  verification skipped: the report will say so")
            return
        try:
            kg = float(ans)
        except ValueError:
            t.say("  not a number: verification skipped")
            return
        for mount in self.cfg.mount_names:
            self._verify_mount(mount, kg)
            self._unhang(f"Take the weight off {mount}.")

    def _verify_mount(self, mount: str, kg: float) -> None:
        t = self.t
        while True:
            if self.rig.is_sim:
                self.rig.hang({mount: kg})
            t.wait_enter(f"Hang {kg:g} kg on {mount}, let it settle, press Enter.",
                         lambda: self.reading([mount]))
            try:
                res = t.progress(f"verify {kg:g} kg on {mount}",
                                 lambda: self.rig.call("calibration.verify",
                                                       {"known_kg": kg, "mount": mount}),
                                 self.cfg.calibration.point_s, lambda: self.reading([mount]))
            except IpcError as e:
                if self._retry("verification", e):
                    continue
                return
            t.say("  " + verify_line(res))
            return
