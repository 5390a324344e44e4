"""RabbitMQ's management HTTP API, for tests and benchmarks (not used at run time).

A fresh vhost per test module (or benchmark run) keeps parallel runs on one broker from
ever seeing each other's queues:

    with TemporaryVhost("gw") as vhost:
        vhost.amqp_uri            # amqp://guest:guest@127.0.0.1:5672/gw-1a2b3c4d5e
        vhost.close_connections() # a broker-side disconnect of this vhost's clients

`BrokerAdmin` speaks the calls of nameko's own `nameko.testing.rabbit.Client` that its
pytest plugin needs (create_vhost, set_vhost_permissions, delete_vhost), so the Nameko
tests' `rabbit_config` vhosts are made through it too (see the root conftest.py).
"""

from __future__ import annotations

import os
import uuid
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

RABBIT_API = os.environ.get("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672")
AMQP_BASE = os.environ.get("TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
HTTP_TIMEOUT = 10.0


def _q(name: str) -> str:
    return quote(name, safe="")


class BrokerAdmin:
    """The management API at `api` (credentials in the URL, guest/guest by default)."""

    def __init__(self, api: str = RABBIT_API):
        parts = urlsplit(api)
        netloc = (parts.hostname or "127.0.0.1") + (f":{parts.port}" if parts.port else "")
        self.base = urlunsplit(parts._replace(netloc=netloc, path=parts.path.rstrip("/")))
        self.user = parts.username or "guest"
        self.auth = (self.user, parts.password or "guest")

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.request(method, f"{self.base}/api/{path}", auth=self.auth, timeout=HTTP_TIMEOUT, **kwargs)
        if not (method == "DELETE" and response.status_code == 404):  # already gone is fine
            response.raise_for_status()
        return response

    def create_vhost(self, vhost: str) -> None:
        self._request("PUT", f"vhosts/{_q(vhost)}")

    def set_vhost_permissions(
        self, vhost: str, username: str, configure: str = ".*", write: str = ".*", read: str = ".*"
    ) -> None:
        self._request(
            "PUT",
            f"permissions/{_q(vhost)}/{_q(username)}",
            json={"configure": configure, "write": write, "read": read},
        )

    def delete_vhost_permissions(self, vhost: str, username: str) -> None:
        """`username` may no longer open connections to `vhost` (tests of a lost broker)."""
        self._request("DELETE", f"permissions/{_q(vhost)}/{_q(username)}")

    def delete_vhost(self, vhost: str) -> None:
        self._request("DELETE", f"vhosts/{_q(vhost)}")

    def vhost_items(self, collection: str, vhost: str) -> Any:
        """GET `collection` ("queues", "exchanges", "bindings", ...) of `vhost`."""
        return self._request("GET", f"{collection}/{_q(vhost)}").json()

    def connections(self, vhost: str) -> list[dict[str, Any]]:
        return self._request("GET", f"vhosts/{_q(vhost)}/connections").json()

    def close_connection(self, name: str) -> None:
        self._request("DELETE", f"connections/{_q(name)}")

    def delete_queue(self, vhost: str, queue: str) -> None:
        self._request("DELETE", f"queues/{_q(vhost)}/{_q(queue)}")


class TemporaryVhost:
    """A vhost of its own, with full permissions for the API's user, deleted on exit."""

    def __init__(self, prefix: str = "test", api: str = RABBIT_API, amqp_base: str = AMQP_BASE):
        self.name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.admin = BrokerAdmin(api)
        self.amqp_uri = vhost_uri(amqp_base, self.name)

    def create(self) -> TemporaryVhost:
        self.admin.create_vhost(self.name)
        self.admin.set_vhost_permissions(self.name, self.admin.user)
        return self

    def delete(self) -> None:
        self.admin.delete_vhost(self.name)

    def get(self, collection: str) -> Any:
        """This vhost's `collection`, e.g. get("queues")."""
        return self.admin.vhost_items(collection, self.name)

    def close_connections(self, wait: float = 15.0, at_least: int = 1) -> int:
        """Force-close every client connection of this vhost (a broker-side disconnect).
        The management API lists a new connection only after its next stats tick, so wait
        up to `wait` seconds for `at_least` of them to show up."""
        poll = Retrying(
            stop=stop_after_delay(wait),
            wait=wait_fixed(0.25),
            retry=retry_if_result(lambda found: len(found) < at_least),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else [],
        )
        connections = poll(self.admin.connections, self.name)
        for connection in connections:
            self.admin.close_connection(connection["name"])
        return len(connections)

    def delete_queue(self, name: str) -> None:
        self.admin.delete_queue(self.name, name)

    def __enter__(self) -> TemporaryVhost:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.delete()


def vhost_uri(amqp_uri: str, vhost: str) -> str:
    """`amqp_uri` pointed at `vhost`."""
    return urlunsplit(urlsplit(amqp_uri)._replace(path="/" + _q(vhost)))
