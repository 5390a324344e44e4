"""The management-API helper the tests and the benchmark share: a vhost of one's own, its
queues and connections, gone afterwards; nameko's `rabbit_config` vhosts come from it too."""

import pytest
from kombu import Connection
from nameko import config

from medcode_common.broker_admin import BrokerAdmin, TemporaryVhost

pytestmark = pytest.mark.rabbit


def test_a_temporary_vhost_is_usable_and_deleted_on_exit():
    with TemporaryVhost("libs-admin") as vhost:
        with Connection(vhost.amqp_uri, connect_timeout=5) as connection:
            connection.SimpleQueue("probe").put({"n": 1})
            assert [q["name"] for q in vhost.get("queues")] == ["probe"]
            assert vhost.close_connections(at_least=1) >= 1
        vhost.delete_queue("probe")
        assert vhost.get("queues") == []
    names = {v["name"] for v in BrokerAdmin()._request("GET", "vhosts").json()}
    assert vhost.name not in names
    vhost.delete()  # deleting again is harmless


def test_nameko_rabbit_config_vhosts_are_made_by_the_helper(rabbit_manager, rabbit_config):
    assert isinstance(rabbit_manager, BrokerAdmin)
    with Connection(config["AMQP_URI"], connect_timeout=5) as connection:
        connection.ensure_connection(max_retries=1)
