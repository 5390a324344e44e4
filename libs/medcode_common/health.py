"""Liveness and readiness of one service process, over HTTP on HEALTH_PORT.

The runner (medcode_common.runner) serves, inside the service's own process:

- `GET /healthz` (liveness): 200 while this process's event loop answers and its Nameko
  container has not died. It asks nothing of the broker or any other replica, so a broker
  outage does not restart every pod, and a stuck process fails its own probe (no other
  replica can answer for it).
- `GET /readyz` (readiness): 200 when a fresh connection to the broker opens, every AMQP
  consumer of the process (RPC, events) is connected, and every store of the service
  answers (each dependency provider with a `check_ready()` method:
  the database through its outbox relay, the search backend); else 503 naming what is
  not ready. Every request checks afresh, so readiness recovers by itself.
- `GET /metrics`: the process's Prometheus metrics (medcode_common.metrics), e.g. the
  latency of each RPC it answered; scraped by Prometheus (the pods' annotations).

`HEALTH_PORT=0` (the default on a laptop, where several services share one host) serves
nothing; the Kubernetes manifests set 8080.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from .settings import HealthSettings, read_settings

log = logging.getLogger(__name__)

BROKER_TIMEOUT = 3.0
CHECK_TIMEOUT = 5.0


def load_health_settings() -> HealthSettings:
    return read_settings(HealthSettings, label="health configuration")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__


def check_broker(amqp_uri: str) -> str:
    from kombu import Connection

    try:
        with Connection(amqp_uri, connect_timeout=BROKER_TIMEOUT) as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", say which
        return _describe(exc)


def store_checks(container) -> dict[str, Callable[[], object]]:
    """`name -> check_ready` of the container's dependency providers that have one."""
    return {
        provider.attr_name: provider.check_ready
        for provider in sorted(container.dependencies, key=lambda p: p.attr_name)
        if callable(getattr(provider, "check_ready", None))
    }


class ConsumerWatch:
    """Whether each of the process's AMQP consumers (RPC, events) is connected right now:
    a broker that answers again is not enough while a consumer still waits to reconnect.
    Kombu tells a consumer when it consumes again and when a reconnect attempt fails."""

    def __init__(self, runner):
        from kombu.mixins import ConsumerMixin

        self.consumers = []
        for container in runner.containers:
            for extension in (*container.entrypoints, *container.subextensions):
                consumer = getattr(extension, "consumer", None)
                if isinstance(consumer, ConsumerMixin) and all(consumer is not c for c in self.consumers):
                    self._watch(consumer)
                    self.consumers.append(consumer)

    @staticmethod
    def _watch(consumer) -> None:
        consumer.medcode_connected = consumer.ready.is_set() if hasattr(consumer, "ready") else True
        consumed, failed = consumer.on_consume_ready, consumer.on_connection_error

        def on_consume_ready(*args, **kwargs):
            consumer.medcode_connected = True
            return consumed(*args, **kwargs)

        def on_connection_error(exc, interval):
            consumer.medcode_connected = False
            return failed(exc, interval)

        consumer.on_consume_ready = on_consume_ready
        consumer.on_connection_error = on_connection_error

    def status(self) -> str:
        waiting = sum(1 for c in self.consumers if not c.medcode_connected)
        return f"{waiting} of {len(self.consumers)} consumers reconnecting" if waiting else "ok"


def readiness(runner, amqp_uri: str, consumers: ConsumerWatch | None = None) -> dict[str, str]:
    import eventlet

    results = {"broker": check_broker(amqp_uri)}
    if consumers is not None:
        results["consumers"] = consumers.status()
    for container in runner.containers:
        for name, check in store_checks(container).items():
            try:
                with eventlet.Timeout(CHECK_TIMEOUT):
                    check()
                results[f"{container.service_name}.{name}"] = "ok"
            except BaseException as exc:  # noqa: BLE001 - includes eventlet's Timeout
                results[f"{container.service_name}.{name}"] = _describe(exc)
    return results


def liveness(runner) -> dict[str, str]:
    return {container.service_name: "dead" if container._died.ready() else "ok" for container in runner.containers}


def make_app(runner, amqp_uri: str, consumers: ConsumerWatch | None = None):
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            from .metrics import CONTENT_TYPE, exposition

            body = exposition()
            start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
            return [body]
        if path == "/healthz":
            checks = liveness(runner)
        elif path == "/readyz":
            checks = readiness(runner, amqp_uri, consumers)
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        ok = bool(checks) and all(value == "ok" for value in checks.values())
        body = json.dumps({"status": "ok" if ok else "unavailable", "checks": checks}).encode()
        start_response(
            "200 OK" if ok else "503 Service Unavailable",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app


def serve(runner, amqp_uri: str, settings: HealthSettings) -> object | None:
    """Start the health server as a green thread of the service process (None when off)."""
    if not settings.HEALTH_PORT:
        return None
    import eventlet
    from eventlet import wsgi

    sock = eventlet.listen((settings.HEALTH_HOST, settings.HEALTH_PORT))
    log.info("health endpoints on %s:%s (/healthz, /readyz, /metrics)", settings.HEALTH_HOST, settings.HEALTH_PORT)
    app = make_app(runner, amqp_uri, ConsumerWatch(runner))
    return eventlet.spawn(wsgi.server, sock, app, log_output=False)
