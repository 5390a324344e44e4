"""Contract of the `metering` service."""
from __future__ import annotations

SERVICE = "metering"


class Rpc:
    HEALTH = "health"
