"""Contract of the `assistant` service."""
from __future__ import annotations

SERVICE = "assistant"


class Rpc:
    HEALTH = "health"
