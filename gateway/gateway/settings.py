"""The gateway's configuration: the platform's Settings (medcode_common.settings), plus a
few gateway constants that need no knob yet."""
from __future__ import annotations

import sys

from medcode_common.settings import ConfigError, Settings, load_settings

# /readyz asks every service's `health` RPC; a ready service answers in milliseconds, so
# a short timeout keeps the probe itself quick when one is down.
READY_TIMEOUT = 1.0
# How long the gateway keeps trying to reach the broker at start.
CONNECT_TIMEOUT = 30.0

__all__ = ["ConfigError", "Settings", "load", "load_or_exit", "READY_TIMEOUT", "CONNECT_TIMEOUT"]


def load(**overrides) -> Settings:
    """Read the environment; raises ConfigError naming each bad variable."""
    return load_settings(**overrides)


def load_or_exit(**overrides) -> Settings:
    """For entry points: a bad variable prints one line naming it and exits with status 2."""
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
