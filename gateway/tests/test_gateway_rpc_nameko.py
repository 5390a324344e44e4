"""The RPC client against a real nameko service (a subprocess: eventlet never runs in
this asyncio process): the wire format both ways, and nameko's own errors."""

from __future__ import annotations

import asyncio
import os

import pytest

from gateway.rpc import RemoteError, RpcClient
from medcode_common.launcher import Platform
from medcode_contracts.errors import Unavailable

pytestmark = pytest.mark.rabbit


@pytest.fixture(scope="module")
async def accounts(amqp_uri, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("accounts")
    env = {**os.environ, "AMQP_URI": amqp_uri, "DATA_DIR": str(workdir)}
    env.pop("DATABASE_URL", None)
    service = Platform(env=env, log_dir=workdir)
    service.start("accounts")
    try:
        async with RpcClient(amqp_uri, timeout=2) as client:
            for _ in range(120):  # until the service consumes its queue
                if service.dead():
                    pytest.fail(f"the accounts service exited: {(workdir / 'accounts.log').read_text()[-2000:]}")
                try:
                    await client.call("accounts", "health", timeout=1)
                    break
                except Unavailable:
                    await asyncio.sleep(0.5)
            yield client
    finally:
        service.stop()


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


async def test_a_reply_is_nameko_s_exact_message(accounts, amqp_uri):
    """The services' replies (one encoding, no confirm) keep Nameko's wire format: JSON body
    {"result", "error"} to the nameko-rpc exchange under our reply key, content type
    application/json, the request's correlation id, persistent, and no headers."""
    import json
    import uuid

    import aio_pika

    connection = await aio_pika.connect(amqp_uri)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange("nameko-rpc", aio_pika.ExchangeType.TOPIC, durable=True)
        reply_key = str(uuid.uuid4())
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key=reply_key)
        await exchange.publish(
            aio_pika.Message(
                json.dumps({"args": [], "kwargs": {}}).encode(),
                content_type="application/json",
                content_encoding="utf-8",
                correlation_id="c-1",
                reply_to=reply_key,
            ),
            routing_key="accounts.health",
        )
        async with queue.iterator(timeout=10) as replies:
            async for message in replies:
                await message.ack()
                break
        assert message.content_type == "application/json" and message.correlation_id == "c-1"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT and not message.headers
        body = json.loads(message.body)
        assert set(body) == {"result", "error"} and body["error"] is None
        assert body["result"]["service"] == "accounts"
    finally:
        await connection.close()
