"""``rigctl replay``: run a recorded trace offline through the live loop's logic."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rigctl.cli import UserError
from rigctl.config import load_config
from rigctl.replay import TraceError, replay


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "replay", help="replay a trace CSV through the estimator and warning state machine",
        description="Prints one JSON line per state transition, then a summary line.")
    p.add_argument("trace", type=Path, help="trace CSV: t_s, then one column per mount")
    p.add_argument("--config", type=Path, default=None,
                   help="config for mounts, thresholds and (raw units) calibration "
                        "(default: config/sim.toml)")
    p.add_argument("--limit-kg", type=float, required=True, help="the client's foot-load limit")
    p.add_argument("--therapist-kg", type=float, required=True, help="the therapist's weight")
    p.add_argument("--units", choices=("kg", "raw"), default="kg",
                   help="trace cells in kg (default) or raw counts (calibration from --config)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    w = cfg.warning
    if not w.limit_min_kg <= args.limit_kg <= w.limit_max_kg:
        raise UserError(f"--limit-kg: {args.limit_kg:g} is outside the allowed "
                        f"{w.limit_min_kg:g}-{w.limit_max_kg:g} kg")
    if not 30 <= args.therapist_kg <= 250:
        raise UserError(f"--therapist-kg: {args.therapist_kg:g} is outside the allowed 30-250 kg")
    out = sys.stdout

    def line(d: dict[str, object]) -> None:
        out.write(json.dumps(d) + "\n")

    try:
        with open(args.trace, encoding="utf-8", newline="") as f:
            result = replay(f, cfg, args.limit_kg, args.therapist_kg, args.units,
                            source=str(args.trace), on_transition=line)
    except OSError as e:
        raise UserError(f"{args.trace}: cannot read trace: {e.strerror or e}") from None
    except (TraceError, UnicodeDecodeError) as e:
        raise UserError(str(e)) from None
    line({"summary": result.summary})
    return 0
