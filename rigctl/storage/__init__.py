"""The API process's database: one SQLite file (WAL) in the state directory."""

from rigctl.storage.db import (
    ROLES,
    Conflict,
    Database,
    NotFound,
    Principal,
    hash_token,
)

__all__ = ["ROLES", "Conflict", "Database", "NotFound", "Principal", "hash_token"]
