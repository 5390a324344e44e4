"""The `assistant` service: the coding assistant over RPC, for the gateway (web) and the
mail ingress (email).

Thin entrypoints: validate the contract payload, call the domain with the codes and
metering RPC proxies, relay the events the answer committed, return JSON primitives.
"""

from __future__ import annotations

from medcode_common.event_handlers import handle_event, parse_event
from medcode_common.nameko_rpc import ServiceRpc
from medcode_common.nameko_service import OutboxService, expected
from medcode_common.rpc import parse_request
from medcode_contracts import accounts, events
from medcode_contracts import assistant as contract
from medcode_contracts import codes as codes_contract
from medcode_contracts import metering as metering_contract
from medcode_contracts.metering import QuestionDecision

from .dependencies import AssistantProvider, KnowledgeProvider, assistant_events
from .facts import call_within


class AssistantService(OutboxService):
    name = contract.SERVICE

    assistant = AssistantProvider()
    knowledge = KnowledgeProvider()
    events = assistant_events()
    codes_rpc = ServiceRpc(codes_contract.SERVICE)
    metering_rpc = ServiceRpc(metering_contract.SERVICE)

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
        decision = call_within(
            self.knowledge.rpc_timeout,
            metering_contract.SERVICE,
            self.metering_rpc.check_questions,
            request.model_dump(mode="json"),
        )
        return QuestionDecision.model_validate(decision)

    # A store failure raises, so the event is retried with backoff and parked in
    # assistant.dead-letter after EVENT_MAX_ATTEMPTS (the inbox makes a retry harmless); a
    # payload that breaks the schema is parked at once, since no retry can fix it.
    @handle_event(accounts.SERVICE, accounts.Events.USER_DELETED)
    def handle_user_deleted(self, payload: dict):
        self.assistant.forget_user(parse_event(events.UserDeleted, payload))
