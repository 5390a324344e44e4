"""Readiness probe for a service container: exit 0 when the service answers its
`health` RPC over the broker within the timeout, 1 otherwise.

    python -m medcode_common.probe codes
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m medcode_common.probe <service>", file=sys.stderr)
        return 2
    import eventlet

    eventlet.monkey_patch()
    from nameko import config
    from nameko.standalone.rpc import ClusterRpcClient

    from .runner import nameko_config
    from .settings import load_settings

    config.setup(nameko_config(load_settings()))
    try:
        with eventlet.Timeout(5), ClusterRpcClient(timeout=5) as cluster:
            health = getattr(cluster, argv[0]).health()
    except BaseException as exc:  # noqa: BLE001 - any failure means "not ready"
        print(f"{argv[0]} not ready: {exc!r}", file=sys.stderr)
        return 1
    print(health)
    return 0


if __name__ == "__main__":
    sys.exit(main())
