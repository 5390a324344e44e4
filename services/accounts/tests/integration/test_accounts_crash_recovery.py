"""Durability: the accounts process dies right after committing a registration, before
relaying its event; after a restart the account is there and `user_registered` goes out."""

import json
import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from kombu import Connection, Queue
from nameko import config
from nameko.standalone.events import get_event_exchange
from nameko.standalone.rpc import ClusterRpcClient

from accounts import storage
from medcode_common.db import make_engine
from medcode_common.nameko_storage import CRASH_AFTER_COMMIT, CRASH_EXIT_STATUS

pytestmark = pytest.mark.rabbit


def start_service(tmp_path, crash: bool) -> subprocess.Popen:
    env = dict(os.environ, AMQP_URI=config["AMQP_URI"], DATA_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    env.pop(CRASH_AFTER_COMMIT, None)
    if crash:
        env[CRASH_AFTER_COMMIT] = "accounts"
    return subprocess.Popen(
        [sys.executable, "-m", "medcode_common.runner", "accounts.service:AccountsService"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_healthy(proc: subprocess.Popen, attempts: int = 60) -> None:
    for _ in range(attempts):
        assert proc.poll() is None, "service exited while starting"
        try:
            with ClusterRpcClient(timeout=1) as cluster:
                cluster.accounts.health()
            return
        except Exception:  # not consuming yet
            time.sleep(0.5)
    pytest.fail("accounts did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_an_event_committed_before_a_crash_is_published_after_restart(rabbit_config, tmp_path):
    events_queue = Queue(
        "test-user-registered", exchange=get_event_exchange("accounts"), routing_key="user_registered", durable=False
    )
    with Connection(config["AMQP_URI"]) as conn:
        events_queue(conn.channel()).declare()

    crashing = start_service(tmp_path, crash=True)
    try:
        wait_healthy(crashing)
        with ClusterRpcClient(timeout=5) as cluster:
            with pytest.raises(Exception):  # noqa: B017 - no reply: the process is gone (timeout or lost connection)
                cluster.accounts.register({"email": "ann@example.org", "password": "s3cret-pass", "name": "Ann"})
        assert crashing.wait(timeout=15) == CRASH_EXIT_STATUS
    finally:
        stop(crashing)

    engine = make_engine(f"sqlite:///{tmp_path / 'accounts.sqlite3'}")
    with engine.connect() as conn:
        user_id = conn.execute(sa.select(storage.accounts.c.id)).scalar_one()
        assert storage.outbox.pending(conn) == 1
    engine.dispose()
    with Connection(config["AMQP_URI"]) as conn:
        assert events_queue(conn.channel()).get() is None  # not published yet

    restarted = start_service(tmp_path, crash=False)
    try:
        wait_healthy(restarted)
        message = None
        with Connection(config["AMQP_URI"]) as conn:
            bound = events_queue(conn.channel())
            for _ in range(60):
                message = bound.get(accept=["json"])
                if message is not None:
                    break
                time.sleep(0.5)
        assert message is not None, "user_registered was not published after the restart"
        payload = message.payload if isinstance(message.payload, dict) else json.loads(message.body)
        assert payload["user_id"] == user_id
        # The stored account works (what committed before the crash is kept).
        with ClusterRpcClient(timeout=5) as cluster:
            auth = cluster.accounts.login({"email": "ann@example.org", "password": "s3cret-pass"})
        assert auth["account"]["id"] == user_id
    finally:
        stop(restarted)
