"""The coding assistant: `ask`, `conversation` and `answerStream` over the assistant
service's ask / get_conversation RPCs (contracts: medcode_contracts.assistant).

The caller asks as itself: the account when logged in (its plan meters the question), else
the guest id of its cookie. The assistant service meters and owns the conversations; a
conversation of someone else is NOT_FOUND, an exhausted quota RATE_LIMITED.
`answerStream` sends the composed answer in chunks (a block of markdown each) and then a
last event with done = true carrying the whole Answer.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.types import Info

from medcode_contracts import assistant as contract
from medcode_contracts.codes import CodeSummary as CodeSummaryContract
from medcode_contracts.errors import BadRequest, NotFound
from medcode_contracts.rpc import Assistant

from .codes.types import CodeSummary
from .common import copy_fields

# Answers take longer than a lookup (several codes-service calls): their own timeout.
ASK_TIMEOUT = 20.0


@strawberry.input
class AskInput:
    question: str
    conversation_id: strawberry.ID | None = None


@strawberry.type
class Citation:
    source: str
    locator: str
    excerpt: str | None


@strawberry.type
class Answer:
    id: strawberry.ID
    conversation_id: strawberry.ID
    text: str = strawberry.field(description="Markdown.")
    intent: str = strawberry.field(
        description="e.g. CODE_LOOKUP, NCCI_PAIR, MUE, MODIFIER, GUIDELINE, COVERAGE, CROSSWALK, UNKNOWN"
    )
    citations: list[Citation]
    codes: list[CodeSummary]

    @classmethod
    def from_contract(cls, answer: contract.Answer) -> Answer:
        return copy_fields(
            cls,
            answer,
            intent=answer.intent.value,
            citations=[copy_fields(Citation, c) for c in answer.citations],
            codes=[CodeSummary.from_contract(CodeSummaryContract.model_validate(c.model_dump())) for c in answer.codes],
        )


@strawberry.type
class AnswerChunk:
    text: str
    done: bool
    answer: Answer | None


@strawberry.type
class Message:
    role: str
    text: str
    at: datetime


@strawberry.type
class Conversation:
    id: strawberry.ID
    channel: str
    messages: list[Message]


async def _ask(info: Info, input: AskInput) -> contract.Answer:
    context = info.context
    account = await context.account(info)
    subject = await context.meter_subject()
    request = dict(
        question=input.question,
        conversation_id=input.conversation_id,  # checked by invoke
        channel=contract.Channel.WEB,
        subject=subject.subject,
        plan=subject.plan,
        user_id=account.id if account else None,
        client_ip=subject.client_ip,
    )
    return await context.invoke(Assistant.ASK, request, op="ask", timeout=max(context.rpc_timeout or 0, ASK_TIMEOUT))


def _validated(input: AskInput) -> AskInput:
    question = input.question.strip()
    if not question:
        raise BadRequest("question: must not be blank")
    if len(question) > contract.MAX_QUESTION_LENGTH:
        raise BadRequest(f"question: at most {contract.MAX_QUESTION_LENGTH} characters")
    return AskInput(question=question, conversation_id=input.conversation_id)


def chunks(text: str) -> list[str]:
    """The answer in pieces a reader can take one at a time: paragraphs and list items."""
    pieces = [piece for piece in re.split(r"(?<=\n)", text) if piece]
    return pieces or [text]


@strawberry.type
class AssistantQuery:
    @strawberry.field
    async def conversation(self, info: Info, id: strawberry.ID) -> Conversation | None:
        context = info.context
        account = await context.account()
        subject = await context.meter_subject()
        request = contract.GetConversationRequest(
            conversation_id=str(id)[:64] or "-", subject=subject.subject, user_id=account.id if account else None
        )
        try:
            conversation = await context.invoke(Assistant.GET_CONVERSATION, request, op="conversation")
        except NotFound:
            return None  # none, or someone else's: the same answer either way
        return Conversation(
            id=strawberry.ID(conversation.id),
            channel=conversation.channel.value,
            messages=[
                Message(role=m.role, text=m.text, at=datetime.fromisoformat(m.at)) for m in conversation.messages
            ],
        )


@strawberry.type
class AssistantMutation:
    @strawberry.mutation(description="Ask the coding assistant. Metered per plan like code pages are.")
    async def ask(self, info: Info, input: AskInput) -> Answer:
        return Answer.from_contract(await _ask(info, _validated(input)))


@strawberry.type
class AssistantSubscription:
    @strawberry.subscription(
        description="Streams the answer to a question as it is composed; the last event has done = true."
    )
    async def answer_stream(self, info: Info, input: AskInput) -> AsyncGenerator[AnswerChunk, None]:
        answer = await _ask(info, _validated(input))
        for piece in chunks(answer.text):
            yield AnswerChunk(text=piece, done=False, answer=None)
        yield AnswerChunk(text="", done=True, answer=Answer.from_contract(answer))
