"""The assistant's use cases: ask a question (in a conversation), read a conversation.

    assistant.ask(request, composer, meter) -> Answer

Order of an `ask`: the conversation must be the asker's (else NotFound: nobody learns
that someone else's exists); a request id already answered returns that answer (no
second count, no second answer); the question is understood and answered; the meter
must grant it (else RateLimited with the meter's reason); then question and answer are
stored with their events in one transaction. Question text goes only into the store and the
`question_received` event, never into logs.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from medcode_contracts import events
from medcode_contracts.assistant import Answer, AskRequest, Conversation, GetConversationRequest, owner_of
from medcode_contracts.errors import NotFound, RateLimited
from medcode_contracts.metering import MeterRequest, QuestionDecision

from .composition import Composer
from .storage import ConversationStore, Turn
from .understanding import to_context, understand

log = logging.getLogger(__name__)

NO_SUCH_CONVERSATION = "No such conversation."


def request_key(owner: str, request_id: str) -> str:
    return hashlib.sha256(f"{owner}\x00{request_id}".encode()).hexdigest()


class Assistant:
    def __init__(self, store: ConversationStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.store = store
        self.clock = clock

    def ask(self, request: AskRequest, composer: Composer, meter: Callable[[MeterRequest], QuestionDecision]) -> Answer:
        owner = owner_of(request.subject, request.user_id)
        conversation = None
        if request.conversation_id:
            conversation = self.store.get(request.conversation_id)
            if conversation is None or conversation.owner != owner:
                raise NotFound(NO_SUCH_CONVERSATION)
        key = request_key(owner, request.request_id) if request.request_id else None
        if key is not None:
            earlier = self.store.answer_for_request(key)
            if earlier is not None:
                return earlier
        # Composed before it is counted: a question that fails on the way (the codes
        # service away) costs the asker nothing, and its retry is counted once.
        understood = understand(request.question, conversation.context if conversation else None)
        composed = composer.compose(understood)
        decision = meter(MeterRequest(subject=request.subject, plan=request.plan, client_ip=request.client_ip))
        if not decision.granted:
            raise RateLimited(decision.reason or "The question quota of your plan is used up.")
        conversation_id = conversation.id if conversation else str(uuid.uuid4())
        answer = Answer(
            id=str(uuid.uuid4()),
            conversation_id=conversation_id,
            text=composed.text,
            intent=composed.intent,
            citations=composed.citations,
            codes=composed.codes,
        )
        channel = conversation.channel if conversation else request.channel
        turn = Turn(
            conversation_id=conversation_id,
            owner=owner,
            channel=channel,
            new_conversation=conversation is None,
            context=to_context(understood),
            question=request.question,
            answer=answer,
            at=self.clock(),
            request_key=key,
            question_event=events.QuestionReceived(
                conversation_id=conversation_id,
                channel=channel.value,
                user_id=request.user_id,
                question=request.question,
            ),
            answer_event=events.AnswerReady(
                conversation_id=conversation_id,
                answer_id=answer.id,
                channel=channel.value,
                intent=composed.intent.value,
                user_id=request.user_id,
            ),
        )
        stored = self.store.record(turn)
        log.info("answered intent=%s channel=%s", stored.intent.value, channel.value)
        return stored

    def conversation(self, request: GetConversationRequest) -> Conversation:
        stored = self.store.get(request.conversation_id)
        if stored is None or stored.owner != owner_of(request.subject, request.user_id):
            raise NotFound(NO_SUCH_CONVERSATION)
        return Conversation(id=stored.id, channel=stored.channel, messages=self.store.messages(stored.id))

    def forget_user(self, event: events.UserDeleted) -> int:
        return self.store.delete_owner(owner_of("", event.user_id), event.event_id)
