"""The message codec: orjson behind kombu's `json` name, the same JSON on the wire, and a
Nameko reply encoded once, without a publisher confirm, in Nameko's exact format."""

import json
from decimal import Decimal
from types import SimpleNamespace

import kombu.serialization
import pytest
from nameko.exceptions import UnserializableValueError

from medcode_common import codec, nameko_rpc

VALUES = [
    {"args": [], "kwargs": {"request": {"query": "achalasia", "first": 20, "after": None}}},
    {"result": [{"code": "K22.0", "title": "Achalasia of cardia", "score": 1.5, "billable": True}], "error": None},
    {"text": "naïve “quotes” ✓", "n": -3, "big": 2**62, "f": 0.1},
]


@pytest.mark.parametrize("value", VALUES)
def test_the_wire_is_plain_json_both_ways(value):
    assert json.loads(codec.dumps(value)) == value
    assert codec.loads(json.dumps(value)) == value
    assert codec.loads(codec.dumps(value).decode()) == value


def test_what_the_standard_json_also_takes():
    assert json.loads(codec.dumps({1: (1, 2), "d": Decimal("1.50"), "s": {3}})) == {"1": [1, 2], "d": "1.50", "s": [3]}


def test_what_json_cannot_hold_is_a_type_error():
    with pytest.raises(TypeError):
        codec.dumps({"x": object()})
    with pytest.raises(ValueError):
        codec.loads(b"{not json")


def test_kombu_json_is_the_codec_with_the_same_content_type():
    codec.register_with_kombu()
    content_type, encoding, body = kombu.serialization.dumps(VALUES[0], serializer="json")
    assert (content_type, encoding) == ("application/json", "utf-8")
    assert body == codec.dumps(VALUES[0])
    assert kombu.serialization.loads(body, content_type, encoding) == VALUES[0]
    assert kombu.serialization.registry._encoders["json"].encoder is codec.dumps


class FakePublisher:
    def __init__(self):
        self.sent: list = []

    def publish(self, body, routing_key, correlation_id):
        self.sent.append((body, routing_key, correlation_id))


@pytest.fixture
def responder():
    message = SimpleNamespace(
        properties={"content_type": "application/json", "reply_to": "r-key", "correlation_id": "c-id"}
    )
    return nameko_rpc.Responder("amqp://", "nameko-rpc", message, publisher=FakePublisher())


def test_a_reply_is_encoded_once_and_sent_without_a_confirm(responder, monkeypatch):
    encoded = []
    real_dumps = codec.dumps
    monkeypatch.setattr(codec, "dumps", lambda value: encoded.append(value) or real_dumps(value))
    result, exc_info = responder.send_response({"a": [1, 2]}, None)
    assert (result, exc_info) == ({"a": [1, 2]}, None)
    assert len(encoded) == 1
    [(body, routing_key, correlation_id)] = responder.publisher.sent
    assert json.loads(body) == {"result": {"a": [1, 2]}, "error": None}
    assert (routing_key, correlation_id) == ("r-key", "c-id")
    publisher = nameko_rpc.ReplyPublisher("amqp://guest:guest@127.0.0.1:5672/")
    assert publisher.producers.connections.connection.transport_options["confirm_publish"] is False
    assert publisher.exchange.name == "nameko-rpc"


def test_an_error_reply_is_nameko_serialised(responder):
    error = ValueError("bad")
    responder.send_response(None, (ValueError, error, None))
    body = json.loads(responder.publisher.sent[0][0])
    assert body == {
        "result": None,
        "error": {"exc_type": "ValueError", "exc_path": "builtins.ValueError", "exc_args": ["bad"], "value": "bad"},
    }


def test_an_unserialisable_result_is_nameko_s_error(responder):
    result, exc_info = responder.send_response({"x": object()}, None)
    assert result is None and exc_info[0] is TypeError
    body = json.loads(responder.publisher.sent[0][0])
    assert body["result"] is None and body["error"]["exc_type"] == UnserializableValueError.__name__
