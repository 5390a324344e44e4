"""Contract of the `careers` service."""
from __future__ import annotations

SERVICE = "careers"


class Rpc:
    HEALTH = "health"
