"""The service class over a real store (SQLite) with the codes and metering RPCs faked:
questions are metered before they are answered, conversations are their owner's only, a
request id is answered once and counted once, and events are relayed after commit."""

from unittest.mock import Mock

import pytest
from nameko.testing.services import worker_factory

from assistant import storage
from assistant.dependencies import Knowledge
from assistant.domain import Assistant
from assistant.service import AssistantService
from medcode_contracts.errors import BadRequest, NotFound, RateLimited


class FakeCodesRpc:
    """The codes service's RPC proxy over the made-up facts."""

    def __init__(self, facts):
        self.facts = facts

    def get_codes(self, request):
        refs = [(r["system"], r["code"]) for r in request["refs"]]
        return [p.model_dump(mode="json") if (p := self.facts.pages.get(ref)) else None for ref in refs]

    def get_code_rules(self, request):
        from medcode_contracts.codes import CodeSystem

        refs = [(CodeSystem(r["system"]), r["code"]) for r in request["refs"]]
        return [r.model_dump(mode="json") for r in self.facts.get_code_rules(refs)]


@pytest.fixture
def service(tmp_path, facts, library, ncds):
    from medcode_common.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'assistant.sqlite3'}")
    storage.SCHEMA.upgrade(engine)
    metering = Mock()
    metering.check_questions.return_value = {"granted": True, "remaining": 2, "limit": 3}
    worker = worker_factory(
        AssistantService,
        assistant=Assistant(storage.ConversationStore(engine)),
        knowledge=Knowledge(library, ncds, "/code/{system}/{code}"),
        events=Mock(),
        codes_rpc=FakeCodesRpc(facts),
        metering_rpc=metering,
    )
    yield worker
    engine.dispose()


GUEST = {"channel": "web", "subject": "g-1", "plan": "GUEST"}


def test_ask_meters_answers_stores_and_relays(service):
    answer = service.ask({"question": "Is K22 billable?", **GUEST, "client_ip": "1.2.3.4"})
    assert answer["intent"] == "BILLABLE" and answer["text"].startswith("**No.**")
    assert answer["codes"][0]["code"] == "K22"
    service.metering_rpc.check_questions.assert_called_once_with(
        {"subject": "g-1", "plan": "GUEST", "client_ip": "1.2.3.4"}
    )
    service.events.after_commit.assert_called_once_with()
    conversation = service.get_conversation({"conversation_id": answer["conversation_id"], "subject": "g-1"})
    assert conversation["channel"] == "web" and len(conversation["messages"]) == 2


def test_a_refused_question_is_rate_limited_and_not_answered(service):
    service.metering_rpc.check_questions.return_value = {
        "granted": False,
        "remaining": 0,
        "limit": 3,
        "reason": "Guests can ask 3 questions.",
    }
    with pytest.raises(RateLimited, match="Guests can ask 3"):
        service.ask({"question": "Is K22 billable?", **GUEST})
    service.events.after_commit.assert_not_called()


def test_only_the_owner_reads_or_continues_a_conversation(service):
    answer = service.ask(
        {"question": "Is K22 billable?", "channel": "web", "subject": "u-1", "plan": "FREE", "user_id": "u-1"}
    )
    conversation_id = answer["conversation_id"]
    for subject, user_id in (("u-2", "u-2"), ("u-1", None)):
        with pytest.raises(NotFound):
            service.get_conversation({"conversation_id": conversation_id, "subject": subject, "user_id": user_id})
        with pytest.raises(NotFound):
            service.ask(
                {
                    "question": "and K22.0?",
                    "channel": "web",
                    "subject": subject,
                    "plan": "FREE",
                    "user_id": user_id,
                    "conversation_id": conversation_id,
                }
            )


def test_a_request_id_is_answered_and_counted_once(service):
    request = {
        "question": "Is K22 billable?",
        "channel": "email",
        "subject": "u-1",
        "plan": "FREE",
        "user_id": "u-1",
        "request_id": "<m1@example.org>",
    }
    first = service.ask(request)
    again = service.ask(request)
    assert again == first
    assert service.metering_rpc.check_questions.call_count == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"question": "   ", **GUEST},
        {"question": "x" * 5000, **GUEST},
        {"question": "q", "channel": "fax", "subject": "g", "plan": "GUEST"},
        {"question": "q", "subject": "g", "plan": "GOLD"},
    ],
)
def test_bad_requests_are_bad_requests(service, payload):
    with pytest.raises(BadRequest):
        service.ask(payload)
    service.metering_rpc.check_questions.assert_not_called()


def test_a_question_the_codes_service_cannot_answer_is_not_counted(service):
    from medcode_contracts.errors import Unavailable

    def away(request):
        raise Unavailable("the codes service did not answer within 10 s")

    service.codes_rpc.get_codes = away
    with pytest.raises(Unavailable):
        service.ask({"question": "Is K22 billable?", **GUEST})
    service.metering_rpc.check_questions.assert_not_called()


def test_a_codes_call_that_never_returns_times_out():
    import eventlet

    from assistant.facts import CodesFacts
    from medcode_contracts.errors import Unavailable

    class Stuck:
        def get_codes(self, request):
            eventlet.sleep(5)

    from medcode_contracts.codes import CodeSystem

    with pytest.raises(Unavailable, match="did not answer within 0.05 s"):
        CodesFacts(Stuck(), timeout=0.05).get_codes([(CodeSystem.ICD10CM, "K220")])
