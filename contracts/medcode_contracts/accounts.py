"""Contract of the `accounts` service."""
from __future__ import annotations

SERVICE = "accounts"


class Rpc:
    HEALTH = "health"
