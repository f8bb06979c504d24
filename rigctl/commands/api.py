"""``rigctl api``: the HTTP API process (FastAPI on uvicorn); owns the database.

Binds 127.0.0.1 unless ``--host`` says otherwise, and then logs a warning:
the API controls a device people stand under.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
from pathlib import Path

log = logging.getLogger(__name__)
DEFAULT_PORT = 8080


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("api", help="run the HTTP API process (talks to `rigctl core`)")
    p.add_argument("--config", type=Path, default=None,
                   help="config file (default: config/sim.toml)")
    p.add_argument("--state-dir", type=Path, default=Path("state"),
                   help="state directory shared with the core (default: ./state)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; anything else is logged)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--auth-fail-limit", type=int, default=10,
                   help="failed tokens allowed per client address per minute (default 10)")
    p.set_defaults(func=main)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(args: argparse.Namespace) -> int:
    import uvicorn

    from rigctl.api.app import create_app
    from rigctl.cli import UserError
    from rigctl.config import load_config

    if not 1 <= args.port <= 65535:
        raise UserError(f"--port: {args.port} is outside 1-65535")
    if args.auth_fail_limit < 1:
        raise UserError("--auth-fail-limit: at least 1")
    cfg = load_config(args.config)
    if not is_loopback(args.host):
        log.warning("api: binding %s, reachable from other machines; keep tokens secret and "
                    "the network trusted (the default is 127.0.0.1)", args.host)
    app = create_app(cfg, args.state_dir, auth_fail_limit=args.auth_fail_limit)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                            access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    print(f"rigctl api: http://{args.host}:{args.port}/ (docs at /docs)", flush=True)
    server.run()
    return 0
