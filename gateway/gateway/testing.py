"""Helpers for the gateway's and the end-to-end tests (not used at run time). A fresh
RabbitMQ vhost per test module comes from medcode_common.broker_admin.TemporaryVhost.
"""

from __future__ import annotations

from collections import Counter
from http.cookies import SimpleCookie
from typing import Any

from medcode_common.testing import free_port as free_port  # the tests' one free-port helper


class FakeService:
    """A nameko-compatible RPC responder written with aio-pika, for tests of the client
    and the app: `handlers` maps a method name to `async (kwargs) -> result`; a handler
    that raises is answered as nameko serialises errors ({exc_type, exc_path, exc_args,
    value}). Every request it receives is kept in `received`."""

    def __init__(self, amqp_uri: str, service: str, handlers: dict):
        self.amqp_uri = amqp_uri
        self.service = service
        self.handlers = handlers
        self.received: list = []

    async def start(self) -> FakeService:
        import aio_pika

        self.connection = await aio_pika.connect_robust(self.amqp_uri)
        channel = await self.connection.channel()
        self.exchange = await channel.declare_exchange("nameko-rpc", aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(f"rpc-{self.service}", durable=True)
        await queue.bind(self.exchange, f"{self.service}.*")
        await queue.consume(self._on_request)
        return self

    async def stop(self) -> None:
        await self.connection.close()

    async def __aenter__(self) -> FakeService:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def _on_request(self, message) -> None:
        import json

        import aio_pika

        async with message.process():
            self.received.append(message)
            method = message.routing_key.split(".", 1)[1]
            kwargs = json.loads(message.body)["kwargs"]
            reply: dict[str, Any] = {"result": None, "error": None}
            handler = self.handlers.get(method)
            try:
                if handler is None:
                    raise _named("MethodNotFound", "nameko.exceptions")(method)
                reply["result"] = await handler(kwargs)
            except Exception as exc:  # noqa: BLE001 - serialised for the caller, like nameko
                cls = type(exc)
                reply["error"] = {
                    "exc_type": cls.__name__,
                    "exc_path": f"{cls.__module__}.{cls.__name__}",
                    "exc_args": [str(a) for a in exc.args],
                    "value": str(exc),
                }
            await self.exchange.publish(
                aio_pika.Message(
                    json.dumps(reply).encode(), correlation_id=message.correlation_id, content_type="application/json"
                ),
                routing_key=message.reply_to,
            )


def _named(name: str, module: str) -> type[Exception]:
    return type(name, (Exception,), {"__module__": module})


def health_of(service: str):
    """A `health` handler for FakeService."""

    async def health(kwargs):
        return {"service": service, "status": "ok", "details": {}}

    return health


class FakeRpc:
    """Stands in for RpcClient in schema tests (in-process, no broker): `answers` maps
    "service.method" to a value, an exception to raise, or a callable of the call's
    keyword arguments. Records every call in order."""

    def __init__(self, answers: dict):
        self.answers = answers
        self.requests: list[tuple[str, dict]] = []  # ("service.method", keyword arguments)
        self.calls: Counter = Counter()

    async def call(self, service, method, *, timeout=None, context=None, op=None, **kwargs):
        target = f"{service}.{method}"
        self.requests.append((target, kwargs))
        self.calls[target] += 1
        answer = self.answers[target]
        if isinstance(answer, Exception):
            raise answer
        return answer(kwargs) if callable(answer) else answer

    def sent(self, target: str) -> list:
        """The `request` payloads sent to `target`, in order."""
        return [kwargs.get("request") for name, kwargs in self.requests if name == target]


class RequestFakeRpc(FakeRpc):
    """FakeRpc whose callable answers take the call's `request` payload itself (every
    typed RPC, medcode_contracts.rpc, sends one)."""

    def __init__(self, answers: dict):
        super().__init__(
            {
                target: (lambda kwargs, answer=answer: answer(kwargs["request"])) if callable(answer) else answer
                for target, answer in answers.items()
            }
        )


# ---- schema tests: made-up answers and a real request context ------------------------------
TEST_SECRET = "gateway-test-secret-" + "x" * 32
GUEST_ID = "0123456789abcdef0123456789abcdef"
ACCOUNT = {
    "id": "u-1",
    "email": "ann@example.org",
    "name": "Ann",
    "plan": "FREE",
    "role": "MEMBER",
    "created_at": "2026-01-01T00:00:00+00:00",
}  # accounts.authenticate's answer for a member


def made_up_page(system: str, code: str) -> dict:
    """A codes.get_codes item with made-up descriptors."""
    return {
        "system": system,
        "code": code,
        "title": f"Made-up title of {code}",
        "short_title": None,
        "billable": True,
        "edition": {"name": "Made-up 2026", "effective_from": "2025-10-01", "source": "x"},
        "lay_terms": ["made-up"],
        "notes": {},
        "parent": None,
        "children": [],
    }


MADE_UP_PAGES = {
    ("ICD10CM", "K220"): made_up_page("ICD10CM", "K22.0"),
    ("HCPCS", "J9035"): made_up_page("HCPCS", "J9035"),
}


MADE_UP_PTP_FINDING = {
    "kind": "PTP",
    "codes": ["11042", "97597"],
    "lines": [1, 2],
    "message": "made-up rationale",
    "modifier_allowed": True,
    "source": "made-up PTP",
}  # one finding of codes.check_claim's answer


def made_up_claim_check(*findings: dict) -> dict:
    """A codes.check_claim answer (not clean) with these findings."""
    return {
        "clean": False,
        "date_of_service": "2024-08-01",
        "setting": "practitioner",
        "editions": ["made-up PTP"],
        "findings": list(findings),
    }


def get_codes(request: dict) -> list:
    """codes.get_codes over MADE_UP_PAGES (None for any other code), for RequestFakeRpc."""
    return [MADE_UP_PAGES.get((ref["system"], ref["code"])) for ref in request["refs"]]


def make_gateway_auth(secret: str = TEST_SECRET):
    from .auth import GatewayAuth
    from .settings import AuthSettings

    return GatewayAuth(AuthSettings(GATEWAY_SECRET=secret))


def schema_context(gateway_auth, rpc, request=None, response=None):
    """The Context a GraphQL request gets (gateway.app), over `rpc` (a FakeRpc)."""
    from starlette.responses import Response

    from .context import Context

    request = request if request is not None else make_request()
    response = response if response is not None else Response()
    return Context(
        rpc=rpc,
        request=request,
        response=response,
        auth=gateway_auth.for_request(request, response),
        gateway_auth=gateway_auth,
    )


def make_request(
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    peer: str | None = "198.51.100.7",
    method: str = "POST",
):
    """A Starlette /graphql request (POST unless `method`) with these headers, cookies and TCP peer."""
    from starlette.requests import Request

    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookies:
        raw.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    return Request(
        {
            "type": "http",
            "method": method,
            "path": "/graphql",
            "headers": raw,
            "client": (peer, 5555) if peer else None,
            "query_string": b"",
        }
    )


def set_cookies(response) -> dict[str, SimpleCookie]:
    """The cookies a Starlette response sets, by name."""
    cookies = {}
    for key, value in response.raw_headers:
        if key == b"set-cookie":
            cookie = SimpleCookie(value.decode())
            cookies.update({name: cookie for name in cookie})
    return cookies


def session_token(secret: str, account_id: str, session_id: str | None = None, ttl: float = 3600) -> str:
    """A session token as the accounts service signs it (medcode_contracts.accounts), for
    tests whose fake accounts service accepts it: the gateway checks signatures itself."""
    import time
    import uuid

    from medcode_common.session_tokens import SessionClaims, encode_session_token

    now = int(time.time())
    claims = SessionClaims(account_id, session_id or str(uuid.uuid4()), expires_at=now + int(ttl))
    return encode_session_token(secret, claims, issued_at=now)
