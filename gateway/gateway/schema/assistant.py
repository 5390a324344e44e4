"""The coding assistant (a later issue implements it)."""
from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from .codes.types import CodeSummary
from .errors import not_implemented


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
    intent: str = strawberry.field(description="e.g. CODE_LOOKUP, NCCI_PAIR, MUE, MODIFIER, GUIDELINE, "
                                               "COVERAGE, CROSSWALK, UNKNOWN")
    citations: list[Citation]
    codes: list[CodeSummary]


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


@strawberry.type
class AssistantQuery:
    @strawberry.field
    async def conversation(self, id: strawberry.ID) -> Conversation | None:
        raise not_implemented("conversation")


@strawberry.type
class AssistantMutation:
    @strawberry.mutation(description="Ask the coding assistant. Metered per plan like code pages are.")
    async def ask(self, input: AskInput) -> Answer:
        raise not_implemented("ask")


@strawberry.type
class AssistantSubscription:
    @strawberry.subscription(description="Streams the answer to a question as it is composed; "
                                         "the last event has done = true.")
    async def answer_stream(self, input: AskInput) -> AsyncGenerator[AnswerChunk, None]:
        raise not_implemented("answerStream")
        yield  # an async generator, as subscriptions must be
