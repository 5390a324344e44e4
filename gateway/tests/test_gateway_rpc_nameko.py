"""The RPC client against a real nameko service (a subprocess: eventlet never runs in
this asyncio process): the wire format both ways, and nameko's own errors."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from gateway.rpc import RemoteError, RpcClient
from medcode_contracts.errors import Unavailable

pytestmark = pytest.mark.rabbit


@pytest.fixture(scope="module")
async def accounts(amqp_uri, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("accounts")
    env = {**os.environ, "AMQP_URI": amqp_uri, "DATA_DIR": str(workdir)}
    env.pop("DATABASE_URL", None)
    log = open(workdir / "service.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "medcode_common.runner", "accounts.service:AccountsService"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        async with RpcClient(amqp_uri, timeout=2) as client:
            for _ in range(120):  # until the service consumes its queue
                if process.poll() is not None:
                    pytest.fail(f"the accounts service exited: {(workdir / 'service.log').read_text()[-2000:]}")
                try:
                    await client.call("accounts", "health", timeout=1)
                    break
                except Unavailable:
                    await asyncio.sleep(0.5)
            yield client
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


async def test_health_of_a_real_service(accounts):
    health = await accounts.call("accounts", "health")
    assert health["service"] == "accounts" and health["status"] == "ok"


async def test_unknown_method_is_a_remote_error(accounts):
    with pytest.raises(RemoteError) as caught:
        await accounts.call("accounts", "no_such_method")
    assert caught.value.exc_type == "MethodNotFound"


async def test_wrong_arguments_are_a_remote_error(accounts):
    with pytest.raises(RemoteError) as caught:
        await accounts.call("accounts", "health", unexpected=1)
    assert caught.value.exc_type == "IncorrectSignature"
