"""Dead letters over the real broker: a poisoned event is tried EVENT_MAX_ATTEMPTS times
with backoff while the events behind it are consumed, is parked in
`<service>.dead-letter` with its error, and a replay after the fix is consumed exactly
once. RPC requests whose handler fails are answered and never redelivered."""

import time

import eventlet
import pytest
from kombu import Connection
from nameko import config
from nameko.exceptions import RemoteError
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ServiceRpcClient

from medcode_common import dead_letters
from medcode_common.dead_letters import DeadLetters
from medcode_common.event_handlers import handle_event, parse_event
from medcode_common.nameko_rpc import rpc
from medcode_contracts.events import UserDeleted

pytestmark = pytest.mark.rabbit


class Record:
    def __init__(self):
        self.handled: list[int] = []
        self.fixed = False


record = Record()


class ListenerService:
    name = "listener"

    @handle_event("publisher", "thing_happened")
    def on_thing(self, payload):
        record.handled.append(payload["n"])
        if payload.get("poison") and not record.fixed:
            raise RuntimeError("cannot handle this thing")

    @handle_event("publisher", "user_gone")
    def on_user_gone(self, payload):
        record.handled.append(parse_event(UserDeleted, payload).user_id)


@pytest.fixture
def listener(rabbit_config, container_factory, monkeypatch):
    global record
    record = Record()
    monkeypatch.setenv("EVENT_RETRY_DELAY", "0.1")  # 0.1, 0.2, 0.4, 0.8 s: quick, but real
    container = container_factory(ListenerService)
    container.start()
    return container


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        eventlet.sleep(0.05)


def queue_depth(name: str) -> int:
    with Connection(config["AMQP_URI"]) as connection:
        return connection.channel().queue_declare(name, passive=True).message_count


def parked(service="listener"):
    with DeadLetters(config["AMQP_URI"]) as tool:
        return tool.list([service])


def test_a_poisoned_event_is_parked_after_n_tries_and_a_replay_is_consumed_once(listener):
    dispatch = event_dispatcher()
    dispatch("publisher", "thing_happened", {"n": 0, "poison": True})
    for n in range(1, 6):
        dispatch("publisher", "thing_happened", {"n": n})

    wait_for(lambda: queue_depth("listener.dead-letter") == 1)
    assert record.handled.count(0) == 5  # EVENT_MAX_ATTEMPTS' default
    # The events behind it were consumed while it waited for its retries.
    assert sorted(n for n in record.handled if n) == [1, 2, 3, 4, 5]
    assert max(record.handled.index(n) for n in range(1, 6)) < len(record.handled) - 1
    eventlet.sleep(1.5)  # longer than the largest backoff: it does not come back by itself
    assert record.handled.count(0) == 5

    [item] = parked()
    assert item.attempts == 5
    assert item.error == "RuntimeError: cannot handle this thing"
    assert item.failed_in == "evt-publisher-thing_happened--listener.on_thing"
    assert item.event == "publisher.events/thing_happened"
    assert parked() == [item]  # listing leaves it parked

    record.fixed = True
    with DeadLetters(config["AMQP_URI"]) as tool:
        assert tool.replay({"no-such-id"}, ["listener"]) == []
        assert tool.replay({item.message_id}, ["listener"]) == [item.message_id]
    wait_for(lambda: record.handled.count(0) == 6)
    eventlet.sleep(1.0)
    assert record.handled.count(0) == 6  # exactly once
    assert parked() == []
    assert queue_depth("evt-publisher-thing_happened--listener.on_thing.retry") == 0


def test_a_malformed_event_is_parked_at_once_without_personal_data(listener):
    event_dispatcher()("publisher", "user_gone", {"schema": "accounts.user_deleted/1", "email": "ann@example.org"})
    wait_for(lambda: queue_depth("listener.dead-letter") == 1)
    [item] = parked()
    assert item.attempts == 1
    assert item.error.startswith("Unprocessable: accounts.user_deleted/1: user_id")
    assert "ann@example.org" not in item.error


def test_the_operators_tool_lists_and_replays(listener, capsys, monkeypatch):
    monkeypatch.setenv("AMQP_URI", config["AMQP_URI"])
    event_dispatcher()("publisher", "thing_happened", {"n": 7, "poison": True})
    wait_for(lambda: queue_depth("listener.dead-letter") == 1)
    assert dead_letters.main(["--service", "listener", "list"]) == 0
    listed = capsys.readouterr().out
    assert "1 parked message(s)" in listed and "RuntimeError: cannot handle this thing" in listed
    message_id = listed.split()[0]
    record.fixed = True
    assert dead_letters.main(["--service", "listener", "replay", message_id]) == 0
    assert f"replayed {message_id}" in capsys.readouterr().out
    wait_for(lambda: record.handled.count(7) == 6)
    assert dead_letters.main(["--service", "listener", "replay", "gone"]) == 1


def test_backoff_doubles_up_to_the_cap():
    settings = dead_letters.DeadLetterSettings(EVENT_RETRY_DELAY=1, EVENT_RETRY_MAX_DELAY=5)
    assert [dead_letters.backoff_seconds(n, settings) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]


crashes = []


class CrashingService:
    name = "crashing"

    @rpc
    def explode(self):
        crashes.append(1)
        raise RuntimeError("handler bug")

    @rpc
    def fine(self):
        return "ok"


def test_a_crashing_rpc_handler_answers_an_error_and_is_not_redelivered(rabbit_config, container_factory):
    crashes.clear()
    container_factory(CrashingService).start()
    with ServiceRpcClient("crashing") as client:
        with pytest.raises(RemoteError, match="handler bug"):
            client.explode()
        eventlet.sleep(1.0)
        assert client.fine() == "ok"
    assert crashes == [1]
    assert queue_depth("rpc-crashing") == 0


def test_an_rpc_request_delivered_too_often_is_answered_without_running(rabbit_config, container_factory):
    """What a quorum queue does with a request whose handler kept killing its process:
    it counts the deliveries in x-delivery-count; the fifth is answered, not run."""
    crashes.clear()
    container_factory(CrashingService).start()
    with ServiceRpcClient("crashing", headers={"x-delivery-count": 5}) as client:
        with pytest.raises(RemoteError, match="RequestKeepsFailing"):
            client.explode()
    assert crashes == []


def test_a_quorum_queues_delivery_count_counts_as_tries():
    """A handler that kills its process cannot count its failure; a quorum queue counts the
    deliveries, so the fifth delivery that fails is parked, not retried."""
    settings = dead_letters.DeadLetterSettings()
    decision = dead_letters.decide(
        {"x-delivery-count": 4, "x-death": [{"count": 1}], "nameko.call_id_stack": ["a"]},
        RuntimeError("boom"),
        queue="q",
        exchange="accounts.events",
        routing_key="user_deleted",
        settings=settings,
    )
    assert not decision.retry
    assert decision.headers[dead_letters.ATTEMPTS] == 5
    assert "x-delivery-count" not in decision.headers and "x-death" not in decision.headers
    assert decision.headers["nameko.call_id_stack"] == ["a"]
    assert dead_letters.replay_headers(decision.headers) == {
        "nameko.call_id_stack": ["a"],
        dead_letters.EXCHANGE: "accounts.events",
        dead_letters.ROUTING_KEY: "user_deleted",
    }
