"""A service's own probes (medcode_common.health) while its broker goes away and comes back:
liveness stays healthy, readiness says not ready, then recovers by itself.

The shared RabbitMQ stays up (other test runs use it): the service reaches it through a
TCP proxy of this test, and "stopping the broker" closes the proxy's port and every
connection through it, which is what the service sees of a broker outage.

Also what a service process holds once started: its schema migrated (in a child process),
and no Alembic in its own memory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import pytest
import sqlalchemy as sa
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from gateway.testing import free_port
from medcode_common.broker_admin import TemporaryVhost
from medcode_common.db import make_engine
from medcode_common.launcher import SERVICES, Platform
from medcode_common.migrations import Schema

pytestmark = pytest.mark.rabbit

BROKER = ("127.0.0.1", 5672)


class BrokerProxy:
    def __init__(self, port: int):
        self.port = port
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """The broker is gone: no new connections, and the open ones drop."""
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(BROKER, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def rpc_call(amqp_uri: str, service: str, method: str, timeout: float = 30.0):
    """One Nameko RPC over a plain kombu connection (no eventlet in this process)."""
    import uuid

    from kombu import Connection, Exchange, Queue

    exchange = Exchange("nameko-rpc", type="topic", durable=True)
    reply_to = f"probe-reply-{uuid.uuid4().hex[:8]}"
    correlation_id = uuid.uuid4().hex
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        queue = Queue(reply_to, exchange, routing_key=reply_to, exclusive=True, auto_delete=True, channel=channel)
        queue.declare()
        connection.Producer(channel).publish(
            {"args": [], "kwargs": {}},
            exchange=exchange,
            routing_key=f"{service}.{method}",
            serializer="json",
            reply_to=reply_to,
            correlation_id=correlation_id,
            declare=[exchange],
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = queue.get(no_ack=True, accept=["json"])
            if message is not None and message.properties.get("correlation_id") == correlation_id:
                assert message.payload["error"] is None, message.payload
                return message.payload["result"]
            time.sleep(0.1)
    pytest.fail(f"no answer from {service}.{method} within {timeout} s")


def probe(port: int, path: str) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10).status_code
    except httpx.HTTPError:
        return None


def wait_for_status(port: int, path: str, status: int, timeout: float = 60.0) -> None:
    poll = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(0.25),
        retry=retry_if_result(lambda s: s != status),
        retry_error_callback=lambda state: state.outcome.result(),
    )
    seen = poll(probe, port, path)
    if seen != status:
        pytest.fail(f"{path} answered {seen}, not {status}, within {timeout} s")


def test_broker_outage_makes_the_service_unready_but_alive_and_it_recovers(tmp_path):
    proxy = BrokerProxy(free_port())
    proxy.start()
    health_port = free_port()
    with TemporaryVhost("probes") as vhost:
        amqp_uri = vhost.amqp_uri.replace(":5672/", f":{proxy.port}/")
        env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL",)}
        env.update(AMQP_URI=amqp_uri, HEALTH_PORT=str(health_port), DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
        service = Platform(env=env, log_dir=tmp_path)
        service.start("metering")
        try:
            wait_for_status(health_port, "/readyz", 200)
            body = httpx.get(f"http://127.0.0.1:{health_port}/readyz", timeout=10).json()
            assert body["checks"] == {"broker": "ok", "consumers": "ok", "metering.events": "ok"}
            assert probe(health_port, "/healthz") == 200

            proxy.stop()
            wait_for_status(health_port, "/readyz", 503)
            body = httpx.get(f"http://127.0.0.1:{health_port}/readyz", timeout=10).json()
            assert body["checks"]["broker"] != "ok" and body["checks"]["metering.events"] == "ok"
            assert body["checks"]["consumers"].endswith("consumers reconnecting")
            for _ in range(8):  # alive throughout the outage
                assert probe(health_port, "/healthz") == 200
                time.sleep(0.5)

            proxy.start()
            wait_for_status(health_port, "/readyz", 200)  # nobody restarted anything
            assert probe(health_port, "/healthz") == 200
            # ...and it consumes again: an RPC through the same broker is answered.
            assert rpc_call(vhost.amqp_uri, "metering", "health")["status"] == "ok"
            assert service.dead() == []
            # The same port serves the process's metrics: that RPC is in its latency histogram.
            metrics = httpx.get(f"http://127.0.0.1:{health_port}/metrics", timeout=10).text
            assert 'rpc_request_duration_seconds_count{method="health",outcome="ok",service="metering"}' in metrics
        finally:
            service.stop()
            proxy.stop()


def test_the_probe_command_reads_the_local_endpoint(tmp_path):
    env = dict(os.environ, HEALTH_PORT=str(free_port()))
    done = subprocess.run(
        [sys.executable, "-m", "medcode_common.probe", "live"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "no answer" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "medcode_common.probe", "sideways"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2


def test_sigusr1_writes_the_stacks_to_the_log_and_the_service_keeps_serving(tmp_path):
    """For a process that is alive but answers nothing: `kill -USR1` shows where it waits."""
    health_port = free_port()
    with TemporaryVhost("stacks") as vhost:
        env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL",)}
        env.update(AMQP_URI=vhost.amqp_uri, HEALTH_PORT=str(health_port), DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
        service = Platform(env=env, log_dir=tmp_path)
        service.start("metering")
        try:
            wait_for_status(health_port, "/readyz", 200)
            os.kill(service.children["metering"].pid, signal.SIGUSR1)
            log = tmp_path / "metering.log"
            poll = Retrying(stop=stop_after_delay(30), wait=wait_fixed(0.25), retry=retry_if_result(lambda t: not t))
            poll(lambda: "--- green thread" in log.read_text() and "most recent call first" in log.read_text())
            text = log.read_text()
            assert "Current thread" in text or "Thread 0x" in text  # faulthandler: the OS threads
            assert "nameko" in text.split("--- green thread", 1)[1]  # a green thread inside nameko
            assert rpc_call(vhost.amqp_uri, "metering", "health")["status"] == "ok"
            assert service.dead() == []
        finally:
            service.stop()


# The real runner, as the platform starts it, reporting at exit which modules of Alembic
# (and of Mako, which only Alembic needs) its process imported: modules are never unloaded,
# so that is all the process ever held.
RUNNER_REPORTING_MODULES = textwrap.dedent("""
    import atexit, json, os, runpy, sys

    def report():
        held = sorted(name for name in sys.modules if name.split(".")[0] in ("alembic", "mako"))
        with open(os.environ["MODULES_REPORT"], "w") as out:
            json.dump(held, out)

    atexit.register(report)
    sys.argv = ["medcode_common.runner", sys.argv[1]]
    runpy.run_module("medcode_common.runner", run_name="__main__")
""")


def _start_reporting_runner(name: str, data_dir, amqp_uri: str, health_port: int) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL",)}
    env.update(
        AMQP_URI=amqp_uri,
        HEALTH_PORT=str(health_port),
        DATA_DIR=str(data_dir),
        MODULES_REPORT=str(data_dir / "modules.json"),
        PYTHONUNBUFFERED="1",
    )
    log = open(data_dir / f"{name}.log", "w")  # noqa: SIM115 - the child's, closed with the test's tmp dir
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER_REPORTING_MODULES, SERVICES[name]], env=env, stdout=log, stderr=subprocess.STDOUT
    )


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_a_started_service_migrated_its_schema_and_holds_no_alembic(tmp_path, name):
    """On a fresh data directory the service brings its schema to head (in a child process)
    and answers; its own process never imported Alembic (issue 13: ~12 MB of each one)."""
    health_port = free_port()
    with TemporaryVhost("no-alembic") as vhost:
        service = _start_reporting_runner(name, tmp_path, vhost.amqp_uri, health_port)
        try:
            wait_for_status(health_port, "/readyz", 200, timeout=120)
            assert rpc_call(vhost.amqp_uri, name, "health")["status"] == "ok"
        finally:
            service.terminate()
            service.wait(timeout=60)
    assert service.returncode == 0, (tmp_path / f"{name}.log").read_text()
    assert json.loads((tmp_path / "modules.json").read_text()) == []
    engine = make_engine(f"sqlite:///{tmp_path / f'{name}.sqlite3'}")
    try:
        assert Schema.of(name).is_current(engine)
    finally:
        engine.dispose()


def test_a_service_whose_migration_fails_exits_with_the_error_in_its_log(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'metering.sqlite3'}")
    try:
        with engine.begin() as conn:  # in the way of the first migration's table
            conn.execute(sa.text("CREATE TABLE metering_subjects (key TEXT)"))
    finally:
        engine.dispose()
    with TemporaryVhost("failed-migration") as vhost:
        service = _start_reporting_runner("metering", tmp_path, vhost.amqp_uri, free_port())
        try:
            service.wait(timeout=120)
        finally:
            if service.poll() is None:
                service.kill()
    log = (tmp_path / "metering.log").read_text()
    assert service.returncode not in (0, None), log
    assert "MigrationError: migrating metering" in log
    assert "table metering_subjects already exists" in log
