"""``rigctl bench-ease``: how fast a comfort-button press becomes ``ease``. Figures, not a test.

Starts a core (sim rig, its comfort button on a mock pin) and an API in a
temporary state directory, runs a session with the therapist leaving 20 kg on
the client, then presses ``--presses`` times each way:

- dashboard: ``POST /api/v1/sessions/{id}/ease``; the HTTP round trip, the
  core's request-to-press time, and how many whole ticks ended in between
  (0 or 1: the first tick that began after the request raised ``ease``);
- hand-held: the sim's button pressed on its mock pin inside the core; from
  the first contact to the loop raising ``ease`` (pin, debounce, hand-over, tick).

Goal (issue 8): ``ease`` within one tick of the press reaching the core.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from rigctl.commands.benchrig import bench_rig, percentile
from rigctl.config import DEFAULT_SIM_CONFIG, load_config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench-ease", help="comfort-button press to ease latency (figures)")
    p.add_argument("--config", type=Path, default=None,
                   help="default: config/sim.toml (needs [inputs] comfort_pin)")
    p.add_argument("--presses", type=int, default=20, help="presses each way (20)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=main)


def _stats(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    if not v:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    return {"p50": round(percentile(v, 50), 3), "p99": round(percentile(v, 99), 3),
            "max": round(v[-1], 3)}


def main(args: argparse.Namespace) -> int:
    from rigctl.cli import UserError
    from rigctl.commands.run import http

    src = args.config or DEFAULT_SIM_CONFIG
    cfg = load_config(src)
    if cfg.rig.backend != "sim" or cfg.inputs.comfort_pin is None:
        raise UserError("bench-ease: needs a sim config with [inputs] comfort_pin", 2)
    if not 1 <= args.presses <= 1000:
        raise UserError("bench-ease: --presses must be 1-1000", 2)
    logging.getLogger("httpx").setLevel(logging.WARNING)

    http_ms: list[float] = []
    core_ms: list[float] = []
    ticks: list[int] = []
    edge_ms: list[float] = []
    with bench_rig("bench-ease", src, "--no-scenario") as rig:
        base = rig.base
        n = len(cfg.mounts)
        rig.core("sim.hold", {"loads_kg": [(70.0 - 20.0) / n] * n})  # 20 kg on the client
        token = rig.token("clinician")
        client = http("POST", f"{base}/api/v1/clients", token,
                      {"display_name": "bench", "foot_load_limit_kg": 40, "cleared": True})
        time.sleep(0.5)
        sid = http("POST", f"{base}/api/v1/sessions", token,
                   {"client_id": client["id"], "therapist_weight_kg": 70})["id"]
        time.sleep(0.5)
        for _ in range(args.presses):
            t0 = time.perf_counter()
            rec = http("POST", f"{base}/api/v1/sessions/{sid}/ease", token)
            http_ms.append((time.perf_counter() - t0) * 1000)
            core_ms.append(rec["request_to_press_ms"])
            ticks.append(rec["ticks_waited"])
            time.sleep(0.05)
        for _ in range(args.presses):
            r = rig.core("sim.comfort_button", {"hold_ms": 30})
            if r["edge_to_press_ms"] is not None:
                edge_ms.append(r["edge_to_press_ms"])
            time.sleep(0.05)
        http("POST", f"{base}/api/v1/sessions/{sid}/stop", token)
    tick_ms = 1000 / cfg.loop.rate_hz
    fig = {
        "tick_ms": tick_ms,
        "dashboard_presses": len(http_ms),
        "dashboard_http_ms": _stats(http_ms),
        "dashboard_request_to_press_ms": _stats(core_ms),
        "dashboard_ticks_waited": {str(k): ticks.count(k) for k in sorted(set(ticks))},
        "button_presses": args.presses,
        "button_presses_seen": len(edge_ms),
        "button_edge_to_press_ms": _stats(edge_ms),
    }
    met = all(t <= 1 for t in ticks) and len(edge_ms) == args.presses
    if args.json:
        print(json.dumps({"figures": fig, "goal_next_tick_met": met}))
        return 0
    for k, v in fig.items():
        print(f"{k:<32} {v}")
    print(f"every dashboard press raised by the first tick after it reached the core, and "
          f"every hand-held press seen: {'met' if met else 'NOT MET'}")
    return 0
