"""What the operators' broker command lines (dead_letters, event_tail) do around their
work: read the platform's AMQP_URI, and turn wrong settings or a broker that does not
answer into a one-line error and an exit status instead of a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable


def run_on_broker(work: Callable[[str], int]) -> int:
    """`work(amqp_uri)`'s exit status; 2 when the settings are wrong, 1 when the broker
    does not answer."""
    from .settings import load_settings, settings_or_exit

    amqp_uri = settings_or_exit(load_settings).AMQP_URI
    try:
        return work(amqp_uri)
    except OSError as exc:
        print(f"error: the broker at AMQP_URI does not answer: {exc}", file=sys.stderr)
        return 1
