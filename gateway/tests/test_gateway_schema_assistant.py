"""ask, conversation and answerStream with a fake RPC client and a real request context:
who asks (account or guest), what reaches the assistant, how its errors and answers come
back. Answers are made up."""

from __future__ import annotations

import pytest

from gateway import testing
from gateway.auth import GUEST_COOKIE, guest_cookie_value
from gateway.schema.assistant import chunks
from gateway.testing import GUEST_ID as GUEST
from gateway.testing import RequestFakeRpc as FakeRpc
from gateway.testing import make_request, schema_context
from medcode_contracts.errors import NotFound, RateLimited

ACCOUNT = {**testing.ACCOUNT, "plan": "PRO"}
ANSWER = {
    "id": "a-1",
    "conversation_id": "c-1",
    "text": "**Yes.** Made-up line one.\n- item two\n- item three",
    "intent": "BILLABLE",
    "citations": [{"source": "Made-up 2026", "locator": "K22.0", "excerpt": "x"}],
    "codes": [{"system": "ICD10CM", "code": "K22.0", "title": "Made-up title", "billable": True}],
}
ASK = (
    "mutation($q: String!, $c: ID) { ask(input: {question: $q, conversationId: $c}) "
    "{ id conversationId text intent citations { source locator excerpt } codes { system code title billable } } }"
)


def context_for(gateway_auth, fake, headers=None):
    request = make_request(headers, {GUEST_COOKIE: guest_cookie_value(gateway_auth.signer, GUEST)})
    return schema_context(gateway_auth, fake, request)


async def test_a_guest_asks_as_its_guest_id_on_the_web_channel(schema, gateway_auth):
    fake = FakeRpc({"assistant.ask": ANSWER})
    result = await schema.execute(
        ASK, variable_values={"q": "  Is K22.0 billable?  "}, context_value=context_for(gateway_auth, fake)
    )
    assert result.errors is None
    assert fake.sent("assistant.ask") == [
        {
            "question": "Is K22.0 billable?",
            "conversation_id": None,
            "channel": "web",
            "subject": GUEST,
            "plan": "GUEST",
            "user_id": None,
            "client_ip": "198.51.100.7",
            "request_id": None,
        }
    ]
    assert result.data["ask"] == {
        "id": "a-1",
        "conversationId": "c-1",
        "text": ANSWER["text"],
        "intent": "BILLABLE",
        "citations": [{"source": "Made-up 2026", "locator": "K22.0", "excerpt": "x"}],
        "codes": [{"system": "ICD10CM", "code": "K22.0", "title": "Made-up title", "billable": True}],
    }


async def test_an_account_asks_with_its_plan_and_continues_its_conversation(schema, gateway_auth):
    fake = FakeRpc({"assistant.ask": ANSWER, "accounts.authenticate": ACCOUNT})
    result = await schema.execute(
        ASK,
        variable_values={"q": "and with modifier 59?", "c": "c-1"},
        context_value=context_for(gateway_auth, fake, {"Authorization": "Bearer t"}),
    )
    assert result.errors is None
    [sent] = fake.sent("assistant.ask")
    assert (sent["subject"], sent["plan"], sent["user_id"], sent["conversation_id"]) == ("u-1", "PRO", "u-1", "c-1")


@pytest.mark.parametrize("question", ["", "   ", "x" * 4001])
async def test_a_blank_or_huge_question_is_bad_input_and_reaches_no_service(schema, gateway_auth, question):
    fake = FakeRpc({"assistant.ask": ANSWER})
    result = await schema.execute(ASK, variable_values={"q": question}, context_value=context_for(gateway_auth, fake))
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    assert fake.calls["assistant.ask"] == 0


async def test_a_bad_conversation_id_is_bad_input(schema, gateway_auth):
    fake = FakeRpc({"assistant.ask": ANSWER})
    result = await schema.execute(
        ASK, variable_values={"q": "and 59?", "c": "x" * 65}, context_value=context_for(gateway_auth, fake)
    )
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"} and "conversation_id" in result.errors[0].message
    assert fake.calls["assistant.ask"] == 0


async def test_an_exhausted_quota_is_rate_limited_with_the_meters_reason(schema, gateway_auth):
    fake = FakeRpc({"assistant.ask": RateLimited("Guests can ask 3 questions. Register to ask more.")})
    result = await schema.execute(
        ASK, variable_values={"q": "MUE for J9035?"}, context_value=context_for(gateway_auth, fake)
    )
    assert result.errors[0].extensions == {"code": "RATE_LIMITED"}
    assert "Register" in result.errors[0].message


async def test_someone_elses_conversation_is_null(schema, gateway_auth):
    fake = FakeRpc({"assistant.get_conversation": NotFound("No such conversation.")})
    result = await schema.execute('{ conversation(id: "c-9") { id } }', context_value=context_for(gateway_auth, fake))
    assert result.errors is None and result.data == {"conversation": None}
    assert fake.sent("assistant.get_conversation") == [{"conversation_id": "c-9", "subject": GUEST, "user_id": None}]


async def test_a_conversation_lists_its_messages(schema, gateway_auth):
    fake = FakeRpc(
        {
            "assistant.get_conversation": {
                "id": "c-1",
                "channel": "email",
                "messages": [
                    {"role": "user", "text": "q", "at": "2026-01-01T00:00:00+00:00"},
                    {"role": "assistant", "text": "a", "at": "2026-01-01T00:00:01+00:00"},
                ],
            }
        }
    )
    result = await schema.execute(
        '{ conversation(id: "c-1") { id channel messages { role text at } } }',
        context_value=context_for(gateway_auth, fake),
    )
    assert result.errors is None
    assert result.data["conversation"]["channel"] == "email"
    assert [m["role"] for m in result.data["conversation"]["messages"]] == ["user", "assistant"]


async def test_answer_stream_sends_chunks_then_done_with_the_answer(schema, gateway_auth):
    fake = FakeRpc({"assistant.ask": ANSWER})
    stream = await schema.subscribe(
        'subscription { answerStream(input: {question: "Is K22.0 billable?"}) { text done answer { id intent } } }',
        context_value=context_for(gateway_auth, fake),
    )
    events = [result.data["answerStream"] async for result in stream]
    assert len(events) == 4
    assert all(not e["done"] and e["answer"] is None for e in events[:-1])
    assert "".join(e["text"] for e in events[:-1]) == ANSWER["text"]
    assert events[-1] == {"text": "", "done": True, "answer": {"id": "a-1", "intent": "BILLABLE"}}


def test_chunks_keep_every_character():
    text = "para one\n\n- a\n- b"
    assert "".join(chunks(text)) == text and len(chunks(text)) == 4
