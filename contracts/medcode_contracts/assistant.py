"""Contract of the `assistant` service: the coding assistant, on the web and by email.

Every RPC takes one argument, `request` (the JSON dump of the model named beside it):

    answer = assistant_rpc.ask({"question": "Is E11.9 billable?", "channel": "web",
                                "subject": user_id, "plan": "FREE", "user_id": user_id})

`ask` meters the question (metering.check_questions) before it answers: a refused one
raises RateLimited with the meter's reason. A conversation belongs to its owner (the
user id, or the guest's subject when nobody is logged in); anyone else gets NotFound.
`request_id` makes `ask` idempotent: the same id in the same conversation returns the
answer already given, without counting the question again (the mail ingress passes one
per Message-ID, so a retry after a crash neither doubles nor loses an answer).
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field, field_validator

from .accounts import Plan
from .codes import CodeSummary
from .common import Id, Model, stripped_not_blank

SERVICE = "assistant"

MAX_QUESTION_LENGTH = 4000


class Rpc:
    HEALTH = "health"
    ASK = "ask"  # AskRequest -> Answer
    GET_CONVERSATION = "get_conversation"  # GetConversationRequest -> Conversation (NotFound if not the owner's)


class Events:
    QUESTION_RECEIVED = "question_received"
    ANSWER_READY = "answer_ready"


class Channel(str, Enum):
    WEB = "web"  # GraphQL (the web app and API clients)
    EMAIL = "email"  # the mail ingress


class Intent(str, Enum):
    CODE_LOOKUP = "CODE_LOOKUP"
    CODE_SEARCH = "CODE_SEARCH"
    BILLABLE = "BILLABLE"
    NCCI_PAIR = "NCCI_PAIR"
    MUE = "MUE"
    MODIFIER = "MODIFIER"
    CROSSWALK = "CROSSWALK"
    GUIDELINE = "GUIDELINE"
    COVERAGE = "COVERAGE"
    CASE_TO_CODES = "CASE_TO_CODES"
    UNKNOWN = "UNKNOWN"


class AskRequest(Model):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_LENGTH)
    conversation_id: str | None = Field(default=None, max_length=64)
    channel: Channel = Channel.WEB
    subject: Id  # whom the meter counts
    plan: Plan
    user_id: str | None = Field(default=None, max_length=100)  # None: a guest
    client_ip: str | None = Field(default=None, max_length=64)
    request_id: str | None = Field(default=None, max_length=200)

    _not_blank = field_validator("question")(stripped_not_blank)


class Citation(Model):
    source: str  # document or file and its edition
    locator: str  # section, row or code
    excerpt: str | None = None


class Answer(Model):
    id: str
    conversation_id: str
    text: str  # markdown
    intent: Intent
    citations: list[Citation] = []
    codes: list[CodeSummary] = []


class GetConversationRequest(Model):
    conversation_id: str = Field(min_length=1, max_length=64)
    subject: Id
    user_id: str | None = Field(default=None, max_length=100)


class Message(Model):
    role: str  # "user" or "assistant"
    text: str
    at: str  # ISO-8601 UTC


class Conversation(Model):
    id: str
    channel: Channel
    messages: list[Message]


def owner_of(subject: str, user_id: str | None) -> str:
    """Who owns a conversation: the account when there is one, else the guest."""
    return f"user:{user_id}" if user_id else f"guest:{subject}"
