"""The ``rigctl`` command: one sub-command per module in ``rigctl.commands``.

Every user-facing error (bad config, bad trace, bad scenario) ends as one line
on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from rigctl import __version__

#: each module has ``register(subparsers)`` that adds its parser with ``func`` set
COMMAND_MODULES = (
    "rigctl.commands.run",
    "rigctl.commands.replay",
    "rigctl.commands.bench",
    "rigctl.commands.core",
    "rigctl.commands.api",
    "rigctl.commands.token",
    "rigctl.commands.bench_api",
    "rigctl.commands.diagnose",
    "rigctl.commands.bench_hx711",
    "rigctl.commands.calibrate",
    "rigctl.commands.bench_ease",
)


class UserError(Exception):
    """An error to show as one line, with exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rigctl", description="rigctl: the foot-load warning controller of an ashiatsu "
        "rig (README.md). 'rigctl COMMAND --help' shows each command's options.")
    parser.add_argument("--version", action="version", version=f"rigctl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from rigctl.backends.scenario import ScenarioError
    from rigctl.config import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, ScenarioError) as e:
        print(f"rigctl: {e}", file=sys.stderr)
        return 2
    except UserError as e:
        print(f"rigctl: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return 130
