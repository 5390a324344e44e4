"""Fixtures of the gateway's tests: a fresh RabbitMQ vhost per test module, and the
schema with the gateway's auth for schema tests (gateway.testing.schema_context)."""

from __future__ import annotations

import pytest

from gateway import testing
from gateway.schema import build_schema
from medcode_common.broker_admin import TemporaryVhost


@pytest.fixture(scope="module")
def vhost():
    with TemporaryVhost("gateway-test") as created:
        yield created


@pytest.fixture(scope="module")
def amqp_uri(vhost) -> str:
    return vhost.amqp_uri


@pytest.fixture(scope="module")
def schema():
    return build_schema()


@pytest.fixture(scope="module")
def gateway_auth():
    return testing.make_gateway_auth()
