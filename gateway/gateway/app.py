"""The gateway's ASGI app: `create_app(settings=None)`.

Routes: /graphql (GraphiQL in a browser; queries by POST or GET; subscriptions over
websocket), /healthz (the process is alive), /readyz (every service answers its health
RPC), /metrics (RPC counters, Prometheus text format).
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any

from medcode_contracts import codes as codes_contract
from medcode_contracts.common import HEALTH
from medcode_contracts.services import ALL_SERVICES
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL

from . import settings as gateway_settings
from .auth import GatewayAuth
from .context import Context
from .rpc import RpcClient
from . import events
from .schema import build_schema
from .schema.careers import unsubscribe_endpoint
from .search_cache import SearchCache
from .telemetry import TracingMiddleware

log = logging.getLogger("gateway")


class GraphQLApp(GraphQL):
    def __init__(self, schema, rpc: RpcClient, gateway_auth: GatewayAuth | None = None,
                 search_cache: SearchCache | None = None, **kwargs: Any):
        super().__init__(schema, **kwargs)
        self.rpc = rpc
        self.gateway_auth = gateway_auth or GatewayAuth(gateway_settings.load_auth())
        self.search_cache = search_cache

    async def get_context(self, request, response) -> Context:
        # Reading the credentials costs no RPC; it also hands a new client its guest cookie.
        return Context(rpc=self.rpc, request=request, response=response,
                       auth=self.gateway_auth.for_request(request, response), gateway_auth=self.gateway_auth,
                       search_cache=self.search_cache)


async def check_services(rpc: RpcClient, timeout: float) -> dict[str, str]:
    """Each service's health: "ok", or why it is not ready."""

    async def one(service: str) -> str:
        try:
            health = await rpc.call(service, HEALTH, timeout=timeout, op="readyz")
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", say which
            return f"{type(exc).__name__}: {exc}"
        status = health.get("status") if isinstance(health, dict) else None
        return "ok" if status == "ok" else f"status {status!r}"

    results = await asyncio.gather(*(one(service) for service in ALL_SERVICES))
    return dict(zip(ALL_SERVICES, results))


def create_app(settings: gateway_settings.Settings | None = None, *,
               auth_settings: gateway_settings.AuthSettings | None = None,
               ready_timeout: float = gateway_settings.READY_TIMEOUT) -> Starlette:
    settings = settings or gateway_settings.load()
    gateway_auth = GatewayAuth(auth_settings or gateway_settings.load_auth())
    rpc = RpcClient(settings.AMQP_URI, timeout=settings.RPC_TIMEOUT,
                    connect_timeout=gateway_settings.CONNECT_TIMEOUT)
    search_cache = SearchCache(settings.GATEWAY_SEARCH_CACHE_SIZE, settings.GATEWAY_SEARCH_CACHE_TTL)
    graphql = GraphQLApp(build_schema(), rpc, gateway_auth, search_cache,
                         graphql_ide="graphiql", allow_queries_via_get=True)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        await rpc.start()
        log.info("gateway connected to the broker; reply queue %s", rpc.reply_queue_name)
        # A new edition changes search results: forget the cached ones.
        await events.subscribe(rpc.connection, codes_contract.SERVICE, codes_contract.Events.EDITION_LOADED,
                               search_cache.clear)
        try:
            yield {"rpc": rpc}
        finally:
            await rpc.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        services = await check_services(rpc, min(ready_timeout, settings.RPC_TIMEOUT))
        not_ready = sorted(name for name, status in services.items() if status != "ok")
        return JSONResponse({"ready": not not_ready, "not_ready": not_ready, "services": services},
                            status_code=503 if not_ready else 200)

    async def metrics(request: Request) -> PlainTextResponse:
        lines = ["# HELP gateway_rpc_calls_total RPC requests the gateway published.",
                 "# TYPE gateway_rpc_calls_total counter"]
        lines += [f'gateway_rpc_calls_total{{target="{t}"}} {n}' for t, n in sorted(rpc.calls.items())]
        lines += ["# HELP gateway_rpc_failures_total RPC requests that got no answer (timeout, no route, broker down).",
                  "# TYPE gateway_rpc_failures_total counter"]
        lines += [f'gateway_rpc_failures_total{{target="{t}"}} {n}' for t, n in sorted(rpc.failures.items())]
        lines += ["# HELP gateway_search_cache_total searchCodes answered from the cache (hit) or not (miss).",
                  "# TYPE gateway_search_cache_total counter",
                  f'gateway_search_cache_total{{result="hit"}} {search_cache.hits}',
                  f'gateway_search_cache_total{{result="miss"}} {search_cache.misses}']
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    app = Starlette(
        routes=[
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/careers/unsubscribe", unsubscribe_endpoint(rpc, settings.RPC_TIMEOUT), methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
        middleware=[Middleware(TracingMiddleware)],
    )
    app.state.rpc = rpc
    app.state.search_cache = search_cache
    app.state.settings = settings
    app.state.auth = gateway_auth
    return app
