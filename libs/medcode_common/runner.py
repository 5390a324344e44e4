"""Start one Nameko service after checking the configuration.

    python -m medcode_common.runner codes.service:CodesService

Differs from `nameko run` only in that a bad environment variable stops the process with
a one-line message naming it (exit status 2) before anything connects, and that the
broker settings come from the same Settings the gateway uses. SIGTERM stops gracefully.
"""
from __future__ import annotations

import logging
import sys


def nameko_config(settings) -> dict:
    return {
        "AMQP_URI": settings.AMQP_URI,
        "SERIALIZER": "json",
        # Replies must not wait behind a long prefetch of slow requests.
        "max_workers": 10,
        "parent_calls_tracked": 10,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m medcode_common.runner <module>:<ServiceClass>", file=sys.stderr)
        return 2
    # Patch before anything else is imported, as eventlet requires.
    import eventlet

    eventlet.monkey_patch()
    from .settings import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from nameko import config
    from nameko.cli.run import run

    config.setup(nameko_config(settings))
    from .telemetry import instrument_nameko

    instrument_nameko(argv[0].split(".")[0])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run([argv[0]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
