"""Probe a service process from inside its container (e.g. a Docker HEALTHCHECK): exit 0
when its own health endpoint (medcode_common.health, on HEALTH_PORT) says so, 1 otherwise.

    python -m medcode_common.probe live     # GET /healthz: the local process only
    python -m medcode_common.probe ready    # GET /readyz: broker and the service's stores

Kubernetes calls the endpoints directly (httpGet probes); this is for everything else.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

PATHS = {"live": "/healthz", "ready": "/readyz"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in PATHS:
        print("usage: python -m medcode_common.probe live|ready", file=sys.stderr)
        return 2
    from .health import load_health_settings
    from .settings import settings_or_exit

    port = settings_or_exit(load_health_settings).HEALTH_PORT
    if not port:
        print("error: HEALTH_PORT is not set, so the service serves no health endpoint", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{PATHS[argv[0]]}", timeout=10) as response:
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.read().decode(), file=sys.stderr)
    except OSError as exc:
        print(f"no answer on port {port}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
