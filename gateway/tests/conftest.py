"""Fixtures of the gateway's tests: a fresh RabbitMQ vhost per test module."""
from __future__ import annotations

import pytest

from medcode_common.broker_admin import TemporaryVhost


@pytest.fixture(scope="module")
def vhost():
    with TemporaryVhost("gateway-test") as created:
        yield created


@pytest.fixture(scope="module")
def amqp_uri(vhost) -> str:
    return vhost.amqp_uri
