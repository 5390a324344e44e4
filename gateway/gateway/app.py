"""The gateway's ASGI app: `create_app(settings=None)`.

Routes: /graphql (GraphiQL in a browser; queries by POST or GET; subscriptions over
websocket), /healthz (the process is alive), /readyz (every service answers its health
RPC: the platform is ready), /readyz/gateway (this process can take requests: the pods'
readiness probe), /metrics (Prometheus: latency per GraphQL operation and per RPC, gateway.metrics),
and the web app's pages and
/static files (gateway.web).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.types.unset import UNSET

from medcode_common.aio_rpc.coalescing import Coalescing
from medcode_contracts import codes as codes_contract
from medcode_contracts.common import NoArguments
from medcode_contracts.rpc import HEALTH_OF, Codes, Metering, RpcMethod
from medcode_contracts.services import ALL_SERVICES

from . import events, limits, web
from . import settings as gateway_settings
from .auth import GatewayAuth, connection_auth
from .context import Context
from .edition_cache import EditionCaches
from .metrics import CONTENT_TYPE, GatewayMetrics
from .rpc import RpcClient, invoke
from .schema import build_schema
from .schema.careers import unsubscribe_endpoint
from .sessions import SUBSCRIPTIONS as SESSION_EVENTS
from .sessions import SessionCache
from .telemetry import tracing_middleware

log = logging.getLogger("gateway")

# Methods whose calls from concurrent requests go as one batch call (medcode_common.aio_rpc.coalescing).
COALESCED: dict[RpcMethod, RpcMethod] = {
    Codes.SEARCH_CODES: Codes.SEARCH_CODES_MANY,
    Metering.CHECK_VIEWS: Metering.CHECK_VIEWS_MANY,
}


class GraphQLJSONResponse(Response):
    """A GraphQL answer over HTTP, encoded by orjson (the standard library's json was a
    few percent of a request). Websocket messages keep Strawberry's text encoding."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class GraphQLApp(web.OfflineGraphiQL, GraphQL[Context, None]):
    def __init__(
        self,
        schema,
        rpc: RpcClient,
        gateway_auth: GatewayAuth | None = None,
        caches: EditionCaches | None = None,
        sessions: SessionCache | None = None,
        coalescing: Coalescing | None = None,
        **kwargs: Any,
    ):
        super().__init__(schema, **kwargs)
        self.rpc = rpc
        self.gateway_auth = gateway_auth or GatewayAuth(gateway_settings.load_auth())
        self.caches = caches
        self.sessions = sessions
        self.coalescing = coalescing

    async def get_context(self, request, response) -> Context:
        # Reading the credentials costs no RPC; it also hands a new client its guest cookie.
        return Context(
            rpc=self.rpc,
            request=request,
            response=response,
            auth=self.gateway_auth.for_request(request, response),
            gateway_auth=self.gateway_auth,
            caches=self.caches,
            sessions=self.sessions,
            coalescing=self.coalescing,
        )

    def decode_json(self, data: str | bytes) -> object:
        # orjson's decode error is a json.JSONDecodeError: a bad body is still a 400.
        return orjson.loads(data)

    def create_response(self, response_data, sub_response: Response) -> Response:
        """Strawberry's response (status, headers and cookies of `sub_response`), encoded by orjson."""
        response = GraphQLJSONResponse(response_data, status_code=sub_response.status_code or 200)
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        return response

    async def parse_http_body(self, request):
        data = await super().parse_http_body(request)
        if isinstance(data, list) and limits.batch_mutations(data) > limits.MAX_MUTATIONS_PER_REQUEST:
            raise HTTPException(400, limits.TOO_MANY_MUTATIONS)
        return data

    async def on_ws_connect(self, context: Context):
        """connection_init: the credentials of a websocket (see gateway.auth.connection_auth)."""
        await connection_auth(context)
        return UNSET  # a plain connection_ack


async def check_services(rpc: RpcClient, timeout: float, details: bool = True) -> dict[str, str]:
    """Each service's health: "ok", or why it is not ready (the exception's text only
    when `details`: it can name hosts and internals)."""

    async def one(service: str) -> str:
        try:
            health = await invoke(rpc, HEALTH_OF[service], NoArguments(), timeout=timeout, op="readyz")
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", say which
            log.info("readyz: %s is not ready: %s: %s", service, type(exc).__name__, exc)
            return f"{type(exc).__name__}: {exc}" if details else "not ready"
        return "ok" if health.status == "ok" else f"status {health.status!r}"

    results = await asyncio.gather(*(one(service) for service in ALL_SERVICES))
    return dict(zip(ALL_SERVICES, results))


def create_app(
    settings: gateway_settings.Settings | None = None,
    *,
    auth_settings: gateway_settings.AuthSettings | None = None,
    limit_settings: limits.LimitSettings | None = None,
    ready_timeout: float = gateway_settings.READY_TIMEOUT,
) -> Starlette:
    settings = settings or gateway_settings.load()
    gateway_auth = GatewayAuth(auth_settings or gateway_settings.load_auth())
    limit_settings = limit_settings or limits.load_limits()
    caches = EditionCaches.from_settings(settings)
    metrics = GatewayMetrics(caches)
    rpc = RpcClient(
        settings.AMQP_URI,
        timeout=settings.RPC_TIMEOUT,
        connect_timeout=gateway_settings.CONNECT_TIMEOUT,
        latency=metrics.rpc_seconds,
    )
    auth = gateway_auth.settings
    sessions = SessionCache(
        auth.TOKEN_SECRET, max_age=auth.GATEWAY_SESSION_CACHE_SECONDS, max_size=auth.GATEWAY_SESSION_CACHE_SIZE
    )
    graphql = GraphQLApp(
        build_schema(introspection=limit_settings.introspection),
        rpc,
        gateway_auth,
        caches,
        sessions=sessions,
        coalescing=Coalescing(COALESCED),
        graphql_ide="graphiql" if limit_settings.graphiql else None,
        allow_queries_via_get=True,
        allowed_origins=limit_settings.allowed_origins,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette):
        gateway_auth.warn_if_untrusted_proxy_setup()
        await rpc.start()
        log.info("gateway connected to the broker; reply queue %s", rpc.reply_queue_name)
        # A new edition changes search results, pages and rules (a code may be gone): forget them.
        assert rpc.connection is not None  # start() connected it
        await events.subscribe(
            rpc.connection, codes_contract.SERVICE, codes_contract.Events.EDITION_LOADED, caches.clear
        )
        # Sessions are kept only while the events that end them can arrive (gateway.sessions).
        for source, event_type, handler in SESSION_EVENTS:
            await events.subscribe(rpc.connection, source, event_type, getattr(sessions, handler))
        rpc.connection.close_callbacks.add(sessions.stop_listening)
        rpc.connection.reconnect_callbacks.add(sessions.start_listening)
        sessions.start_listening()
        try:
            yield {"rpc": rpc}
        finally:
            await rpc.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def gateway_ready(request: Request) -> JSONResponse:
        # The pods' readiness probe: this process can take requests (its broker connection
        # and reply consumer are up). Not /readyz: one service down would make every gateway
        # pod unready and take the whole API away, where its other fields still answer.
        ready = rpc.consuming
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    async def readyz(request: Request) -> JSONResponse:
        services = await check_services(rpc, min(ready_timeout, settings.RPC_TIMEOUT), limit_settings.error_details)
        not_ready = sorted(name for name, status in services.items() if status != "ok")
        return JSONResponse(
            {"ready": not not_ready, "not_ready": not_ready, "services": services},
            status_code=503 if not_ready else 200,
        )

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    app = Starlette(
        routes=[
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/readyz/gateway", gateway_ready),
            Route("/metrics", metrics_endpoint),
            *web.routes(graphiql=limit_settings.graphiql),
            Route("/careers/unsubscribe", unsubscribe_endpoint(rpc, settings.RPC_TIMEOUT), methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
        middleware=[
            tracing_middleware(),
            Middleware(web.SecurityHeaders),
            # The rate first (it reads nothing), then the size: no body past the limit is read.
            Middleware(
                limits.RateLimit,
                per_minute=limit_settings.RATE_LIMIT_PER_MINUTE,
                client_address=gateway_auth.client_address,
            ),
            Middleware(limits.BodySizeLimit, max_bytes=limit_settings.GATEWAY_MAX_BODY_BYTES),
        ],
    )
    app.state.rpc = rpc
    app.state.caches = caches
    app.state.metrics = metrics  # read by gateway.metrics.OperationMetrics
    app.state.sessions = sessions
    app.state.settings = settings
    app.state.auth = gateway_auth
    return app
