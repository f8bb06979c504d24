"""``rigctl token create|list|revoke``: API tokens from the device's shell.

The first admin token can only come from here (whoever has a shell on the
device owns it anyway). ``create`` prints the token alone on the last line of
stdout, so ``TOKEN=$(rigctl token create --role admin | tail -1)`` works.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from rigctl.storage.db import ROLES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("token", help="create, list or revoke API tokens")
    tsub = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    c = tsub.add_parser("create", help="create a token (printed once, stored hashed)")
    c.add_argument("--role", required=True, choices=ROLES)
    c.add_argument("--name", default=None, help="who or what uses it (default: ROLE@shell)")
    ls = tsub.add_parser("list", help="list tokens (never the tokens themselves)")
    r = tsub.add_parser("revoke", help="revoke a token by id")
    r.add_argument("id", type=int)
    for q in (c, ls, r):
        q.add_argument("--state-dir", type=Path, default=Path("state"),
                       help="state directory holding rigctl.db (default: ./state)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from rigctl.cli import UserError
    from rigctl.storage import Database, NotFound

    db = Database.in_state_dir(args.state_dir)
    actor = f"shell ({_user()})"
    try:
        if args.token_command == "create":
            name = (args.name or f"{args.role}@shell").strip()
            if not 1 <= len(name) <= 80:
                raise UserError("--name: 1-80 characters")
            row, token = db.create_token(actor, args.role, name)
            print(f"token {row['id']} ({row['name']}, {row['role']}) created; it is shown "
                  "only now:")
            print(token)
        elif args.token_command == "list":
            print(f"{'id':>4}  {'role':<10} {'name':<24} {'created':<24} revoked")
            for t in db.list_tokens():
                print(f"{t['id']:>4}  {t['role']:<10} {t['name'][:24]:<24} "
                      f"{t['created_at']:<24} {t['revoked_at'] or '-'}")
        else:
            try:
                row = db.revoke_token(actor, args.id)
            except NotFound as e:
                raise UserError(str(e), 1) from None
            print(f"token {row['id']} ({row['name']}) revoked at {row['revoked_at']}")
    finally:
        db.close()
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
