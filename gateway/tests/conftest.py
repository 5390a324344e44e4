"""Fixtures of the gateway's tests: a fresh RabbitMQ vhost per test module."""
from __future__ import annotations

import pytest

from gateway.testing import Vhost


@pytest.fixture(scope="module")
def vhost():
    with Vhost("gateway-test") as created:
        yield created


@pytest.fixture(scope="module")
def amqp_uri(vhost) -> str:
    return vhost.amqp_uri
