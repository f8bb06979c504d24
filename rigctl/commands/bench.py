"""``rigctl bench``: loop timing, warning latency and replay speed, as figures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rigctl.bench import GOALS, check_goals, measure_latency, measure_loop, measure_replay
from rigctl.config import load_config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="measure loop timing, warning latency and replay speed "
                                     "on the sim rig")
    p.add_argument("--config", type=Path, default=None, help="default: config/sim.toml")
    p.add_argument("--seconds", type=float, default=60.0,
                   help="length of the loop timing run (default 60)")
    p.add_argument("--steps", type=int, default=20,
                   help="load steps per latency figure (default 20)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if cfg.rig.backend != "sim":
        cfg = cfg.model_copy(update={"rig": cfg.rig.model_copy(update={"backend": "sim"})})

    def progress(msg: str) -> None:
        print(f"bench: {msg}", file=sys.stderr, flush=True)

    fig: dict[str, Any] = {}
    fig.update(measure_loop(cfg, args.seconds, progress))
    fig.update(measure_latency(cfg, max(1, args.steps), progress))
    progress("replay of a one-hour trace")
    fig.update(measure_replay(cfg))
    met = check_goals(fig)
    if args.json:
        print(json.dumps({"figures": fig, "goals_met": met}))
        return 0
    for k, v in fig.items():
        goal = GOALS.get(k)
        mark = ""
        if goal is not None:
            mark = f"   goal {goal[0]} {goal[1]}: {'met' if met[k] else 'NOT MET'}"
        print(f"{k:<28} {v}{mark}")
    return 0
