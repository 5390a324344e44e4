"""Every RPC a caller makes, declared once: its service, method, request model and reply
type. Callers go through one typed `invoke` (the gateway's `Context.invoke`) that checks
both directions against these declarations, so a method's payloads are never spelled out
at a call site.

`batch` names the request's list field whose items the reply answers one by one, in
request order (get_codes, get_code_rules, check_views): a reply of another length is
the service's bug, never the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter
from typing_extensions import TypeForm

from . import accounts, assistant, careers, codes, coding_rules, metering
from .common import HEALTH, Health, NoArguments
from .services import ALL_SERVICES

RequestT = TypeVar("RequestT", bound=BaseModel)
ReplyT = TypeVar("ReplyT")


@dataclass(frozen=True)
class RpcMethod(Generic[RequestT, ReplyT]):
    service: str
    name: str
    request: type[RequestT]
    reply: TypeForm[ReplyT]  # a type pydantic validates: a Model, list[Model], Model | None, bool
    batch: str | None = None  # the request's list field the reply answers item by item
    # How a caller's dict becomes the request, BadRequest naming the bad field; None: the
    # plain check every service does (medcode_common.rpc.parse_request).
    parse: Callable[[dict[str, Any]], RequestT] | None = None
    _reply_adapter: TypeAdapter = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_reply_adapter", TypeAdapter(self.reply))
        if self.batch is not None and self.batch not in self.request.model_fields:
            raise TypeError(f"{self.request.__name__} has no field {self.batch!r} to batch {self.name} by")

    @property
    def target(self) -> str:
        return f"{self.service}.{self.name}"

    @cached_property  # asked for by each request's DataLoader
    def max_batch_size(self) -> int | None:
        """The most items one call may carry: the `max_length` of the request's batch
        field, so a caller's DataLoader splits where the service's model would refuse."""
        if self.batch is None:
            return None
        limits = [m.max_length for m in self.request.model_fields[self.batch].metadata if hasattr(m, "max_length")]
        return min(limits) if limits else None

    def batch_size(self, request: RequestT) -> int | None:
        return None if self.batch is None else len(getattr(request, self.batch))

    def parse_reply(self, reply: Any) -> ReplyT:
        return self._reply_adapter.validate_python(reply)


class Codes:
    SEARCH_CODES = RpcMethod(codes.SERVICE, codes.Rpc.SEARCH_CODES, codes.SearchRequest, codes.SearchResult)
    SEARCH_CODES_MANY = RpcMethod(
        codes.SERVICE,
        codes.Rpc.SEARCH_CODES_MANY,
        codes.SearchManyRequest,
        list[codes.SearchOutcome],
        batch="searches",
    )
    GET_CODES = RpcMethod(
        codes.SERVICE, codes.Rpc.GET_CODES, codes.GetCodesRequest, list[codes.CodePage | None], batch="refs"
    )
    GET_CODE_RULES = RpcMethod(
        codes.SERVICE,
        coding_rules.Rpc.GET_CODE_RULES,
        coding_rules.GetCodeRulesRequest,
        list[coding_rules.CodeRules],
        batch="refs",
    )
    CHECK_CLAIM = RpcMethod(
        codes.SERVICE,
        coding_rules.Rpc.CHECK_CLAIM,
        coding_rules.ClaimInput,
        coding_rules.ClaimCheck,
        parse=coding_rules.parse_claim,
    )
    GET_MODIFIER = RpcMethod(
        codes.SERVICE, coding_rules.Rpc.GET_MODIFIER, coding_rules.GetModifierRequest, coding_rules.Modifier | None
    )


class Metering:
    CHECK_VIEWS = RpcMethod(
        metering.SERVICE,
        metering.Rpc.CHECK_VIEWS,
        metering.CheckViewsRequest,
        list[metering.ViewDecision],
        batch="resources",
    )
    CHECK_VIEWS_MANY = RpcMethod(
        metering.SERVICE,
        metering.Rpc.CHECK_VIEWS_MANY,
        metering.CheckViewsManyRequest,
        list[metering.CheckViewsOutcome],
        batch="checks",
    )
    GET_METER = RpcMethod(metering.SERVICE, metering.Rpc.GET_METER, metering.MeterRequest, metering.Meter)
    CHECK_QUESTIONS = RpcMethod(
        metering.SERVICE, metering.Rpc.CHECK_QUESTIONS, metering.MeterRequest, metering.QuestionDecision
    )
    CARRY_OVER = RpcMethod(metering.SERVICE, metering.Rpc.CARRY_OVER, metering.CarryOverRequest, metering.Meter)
    CHECK_CLAIM = RpcMethod(metering.SERVICE, metering.Rpc.CHECK_CLAIM, metering.MeterRequest, metering.ClaimDecision)


class Accounts:
    REGISTER = RpcMethod(accounts.SERVICE, accounts.Rpc.REGISTER, accounts.RegisterRequest, accounts.AuthPayload)
    LOGIN = RpcMethod(accounts.SERVICE, accounts.Rpc.LOGIN, accounts.LoginRequest, accounts.AuthPayload)
    LOGOUT = RpcMethod(accounts.SERVICE, accounts.Rpc.LOGOUT, accounts.TokenRequest, bool)
    AUTHENTICATE = RpcMethod(accounts.SERVICE, accounts.Rpc.AUTHENTICATE, accounts.TokenRequest, accounts.Account)
    GET_ACCOUNT = RpcMethod(accounts.SERVICE, accounts.Rpc.GET_ACCOUNT, accounts.GetAccountRequest, accounts.Account)
    SET_PLAN = RpcMethod(accounts.SERVICE, accounts.Rpc.SET_PLAN, accounts.SetPlanRequest, accounts.Account)
    DELETE_ACCOUNT = RpcMethod(accounts.SERVICE, accounts.Rpc.DELETE_ACCOUNT, accounts.DeleteAccountRequest, bool)
    FIND_ACCOUNT = RpcMethod(
        accounts.SERVICE, accounts.Rpc.FIND_ACCOUNT, accounts.FindAccountRequest, accounts.Account | None
    )


class Assistant:
    ASK = RpcMethod(assistant.SERVICE, assistant.Rpc.ASK, assistant.AskRequest, assistant.Answer)
    GET_CONVERSATION = RpcMethod(
        assistant.SERVICE, assistant.Rpc.GET_CONVERSATION, assistant.GetConversationRequest, assistant.Conversation
    )


class Careers:
    POST_JOB = RpcMethod(careers.SERVICE, careers.Rpc.POST_JOB, careers.PostJobRequest, careers.Job)
    CLOSE_JOB = RpcMethod(careers.SERVICE, careers.Rpc.CLOSE_JOB, careers.CloseJobRequest, careers.Job)
    GET_JOBS = RpcMethod(
        careers.SERVICE, careers.Rpc.GET_JOBS, careers.GetJobsRequest, list[careers.Job | None], batch="ids"
    )
    SEARCH_JOBS = RpcMethod(
        careers.SERVICE, careers.Rpc.SEARCH_JOBS, careers.SearchJobsRequest, careers.JobSearchResult
    )
    MATCH_JOB = RpcMethod(careers.SERVICE, careers.Rpc.MATCH_JOB, careers.MatchJobRequest, careers.MatchJobResult)
    APPLY = RpcMethod(careers.SERVICE, careers.Rpc.APPLY, careers.ApplyRequest, careers.Application)
    LIST_APPLICATIONS = RpcMethod(
        careers.SERVICE,
        careers.Rpc.LIST_APPLICATIONS,
        careers.ListApplicationsRequest,
        dict[str, list[careers.Application]],
    )
    MY_APPLICATIONS = RpcMethod(
        careers.SERVICE, careers.Rpc.MY_APPLICATIONS, careers.UserRequest, list[careers.Application]
    )
    SAVE_SEARCH = RpcMethod(careers.SERVICE, careers.Rpc.SAVE_SEARCH, careers.SaveSearchRequest, careers.SavedSearch)
    MY_SAVED_SEARCHES = RpcMethod(
        careers.SERVICE, careers.Rpc.MY_SAVED_SEARCHES, careers.UserRequest, list[careers.SavedSearch]
    )
    SET_ALERTS = RpcMethod(careers.SERVICE, careers.Rpc.SET_ALERTS, careers.SetAlertsRequest, careers.SavedSearch)
    UNSUBSCRIBE = RpcMethod(careers.SERVICE, careers.Rpc.UNSUBSCRIBE, careers.UnsubscribeRequest, careers.SavedSearch)
    GET_PROFILE = RpcMethod(careers.SERVICE, careers.Rpc.GET_PROFILE, careers.UserRequest, careers.CareerProfile)
    SET_PROFILE = RpcMethod(careers.SERVICE, careers.Rpc.SET_PROFILE, careers.SetProfileRequest, careers.CareerProfile)


# Every service answers `health()` (readiness: the gateway's /readyz asks each one).
HEALTH_OF = {service: RpcMethod(service, HEALTH, NoArguments, Health) for service in ALL_SERVICES}
