"""The `assistant` service: the coding assistant over RPC, for the gateway (web) and the
mail ingress (email).

Thin entrypoints: validate the contract payload, call the domain with the codes and
metering RPC proxies, relay the events the answer committed, return JSON primitives.
"""
from __future__ import annotations

import logging

from nameko.events import event_handler
from nameko.rpc import ServiceRpc, rpc
from nameko.timer import timer
from pydantic import ValidationError

from medcode_common.rpc import parse_request
from medcode_contracts import accounts, events
from medcode_contracts import assistant as contract
from medcode_contracts import codes as codes_contract
from medcode_contracts import metering as metering_contract
from medcode_contracts.common import Health
from medcode_contracts.errors import PlatformError
from medcode_contracts.metering import QuestionDecision

from .dependencies import AssistantProvider, KnowledgeProvider, assistant_events
from .facts import call_within

log = logging.getLogger(__name__)
expected = rpc(expected_exceptions=PlatformError)


class AssistantService:
    name = contract.SERVICE

    assistant = AssistantProvider()
    knowledge = KnowledgeProvider()
    events = assistant_events()
    codes_rpc = ServiceRpc(codes_contract.SERVICE)
    metering_rpc = ServiceRpc(metering_contract.SERVICE)

    @rpc
    def health(self) -> dict:
        return Health(service=self.name).model_dump(mode="json")

    @expected
    def ask(self, request: dict) -> dict:
        parsed = parse_request(contract.AskRequest, request)
        answer = self.assistant.ask(parsed, self.knowledge.composer(self.codes_rpc), self._meter)
        self.events.after_commit()
        return answer.model_dump(mode="json")

    @expected
    def get_conversation(self, request: dict) -> dict:
        parsed = parse_request(contract.GetConversationRequest, request)
        return self.assistant.conversation(parsed).model_dump(mode="json")

    def _meter(self, request) -> QuestionDecision:
        decision = call_within(self.knowledge.rpc_timeout, metering_contract.SERVICE, self.metering_rpc.check_questions,
                               request.model_dump(mode="json"))
        return QuestionDecision.model_validate(decision)

    # A store failure raises, so the message is requeued (the inbox makes a retry harmless).
    @event_handler(accounts.SERVICE, accounts.Events.USER_DELETED, requeue_on_error=True)
    def handle_user_deleted(self, payload: dict):
        try:
            event = events.UserDeleted.model_validate(payload)
        except ValidationError as exc:
            log.error("dropping malformed user_deleted event: %s", exc.errors()[:1])
            return
        self.assistant.forget_user(event)

    @timer(interval=1)
    def relay_events(self):
        """Publishes whatever an answer committed but could not relay (broker away, crash)."""
        self.events()
