"""The gateway's own CPU per request, in-process: the ASGI app (`GraphQLApp`, as
create_app builds it) driven directly, with a fake RPC client answering at once, so
what is timed is HTTP parsing, GraphQL, the resolvers and encoding, and no broker.

    python -m benchmarks.gateway_cpu --requests 3000 [--profile [MODE]]

Prints CPU ms per request for a bare `{ __typename }`, for searchCodes (every query
distinct, so the search cache misses, as in `make bench`), and for the code page (the
bench's CODE query over its CODES, every page from the edition cache after its first view)
as a PRO member (a signed session token in the session cookie with its CSRF cookie and
X-CSRF-Token header, as the web app sends them; accounts.authenticate answers once per
session) and as a cookie-less guest (a new guest cookie on every response). The only RPC
of a page is then metering.check_views, answered at once. `--profile` adds cProfile's top
functions for one mode (search, member or guest; search when none is named).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time

import orjson

from benchmarks.run import CODE, CODES, SEARCH

HITS = 10
PAGE_CHILDREN = 5
MEMBER = {
    "id": "u-pro",
    "email": "pro@example.org",
    "name": "Pro",
    "plan": "PRO",
    "role": "MEMBER",
    "created_at": "2026-01-01T00:00:00+00:00",
}  # accounts.authenticate's answer


def search_result(query: str) -> dict:
    """A search_codes answer of HITS made-up hits, shaped as the codes service sends it."""
    return {
        "total_count": 120,
        "hits": [
            {
                "cursor": f"c{i}",
                "score": 10.0 - i,
                "highlight": f"<mark>{query}</mark> made-up title {i}",
                "node": {"system": "ICD10CM", "code": f"K22.{i}", "title": f"Made-up title {i}", "billable": True},
            }
            for i in range(HITS)
        ],
        "has_next_page": True,
        "end_cursor": f"c{HITS - 1}",
        "facets": [{"system": "ICD10CM", "count": 120}],
    }


def code_page(system: str, code: str) -> dict:
    """A get_codes item with made-up descriptors, notes, a parent and children, shaped as the
    codes service sends it (the code printed canonically, as the meter's resource needs)."""
    from medcode_contracts.codes import canonical_code

    code = canonical_code(system, code)

    def summary(child: str, billable: bool) -> dict:
        return {"system": system, "code": child, "title": f"Made-up title of {child}", "billable": billable}

    return {
        "system": system,
        "code": code,
        "title": f"Made-up title of {code}",
        "short_title": f"Made-up {code}",
        "billable": True,
        "edition": {"name": "Made-up 2026", "effective_from": "2025-10-01", "source": "made-up release"},
        "lay_terms": ["made-up term", "another made-up term"],
        "notes": {"excludes1": ["made-up excluded condition (X00.0)", "another one (X00.1)"], "includes": ["made-up"]},
        "parent": summary(code[:3], False),
        "children": [summary(f"{code}{i}", True) for i in range(PAGE_CHILDREN)],
        "description": [{"text": f"Made-up sentence about {code}.", "source": "made-up file"}],
    }


def check_views(request: dict) -> list[dict]:
    """metering.check_views granting every view (a PRO member's are unlimited)."""
    remaining, limit = (None, None) if request["plan"] == "PRO" else (7, 10)
    return [
        {"resource": resource, "granted": True, "remaining": remaining, "limit": limit}
        for resource in request["resources"]
    ]


def build_app():
    from gateway.app import GraphQLApp
    from gateway.edition_cache import EditionCaches
    from gateway.schema import build_schema
    from gateway.sessions import SessionCache
    from gateway.testing import RequestFakeRpc, make_gateway_auth

    rpc = RequestFakeRpc(
        {
            "codes.search_codes": lambda request: search_result(request["query"]),
            "codes.get_codes": lambda request: [code_page(ref["system"], ref["code"]) for ref in request["refs"]],
            "metering.check_views": check_views,
            "accounts.authenticate": MEMBER,
        }
    )
    gateway_auth = make_gateway_auth()
    auth = gateway_auth.settings
    sessions = SessionCache(
        auth.TOKEN_SECRET, max_age=auth.GATEWAY_SESSION_CACHE_SECONDS, max_size=auth.GATEWAY_SESSION_CACHE_SIZE
    )
    sessions.start_listening()  # as create_app's lifespan does once the event queues consume
    return GraphQLApp(build_schema(introspection=False), rpc, gateway_auth, EditionCaches(), sessions=sessions)


def member_headers(app) -> list[tuple[bytes, bytes]]:
    """The session cookie, its CSRF cookie and the X-CSRF-Token header of a PRO member's
    web app, the token signed as the accounts service signs it."""
    from gateway.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, csrf_token
    from gateway.testing import session_token

    token = session_token(app.gateway_auth.settings.TOKEN_SECRET, MEMBER["id"], ttl=86400)
    csrf = csrf_token(app.gateway_auth.signer, token)
    return [
        (b"cookie", f"{SESSION_COOKIE}={token}; {CSRF_COOKIE}={csrf}".encode()),
        (CSRF_HEADER.encode(), csrf.encode()),
    ]


def pages(count: int) -> list[bytes]:
    return [
        orjson.dumps({"query": CODE, "variables": {"s": system, "c": code}})
        for system, code in (CODES[i % len(CODES)] for i in range(count))
    ]


async def post(app, body: bytes, headers: list[tuple[bytes, bytes]] = ()) -> bytes:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[bytes] = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.body":
            sent.append(message.get("body", b""))

    await app(scope, receive, send)
    return b"".join(sent)


async def cpu_ms_per_request(app, bodies: list[bytes], headers: list[tuple[bytes, bytes]] = ()) -> float:
    for body in bodies[:20]:  # warm: parsed-document cache, edition cache, session, imports
        answer = orjson.loads(await post(app, body, headers))
        assert not answer.get("errors"), answer
        page = answer["data"].get("code")
        assert page is None or page["access"]["granted"], answer
    started = time.process_time()
    for body in bodies[20:]:
        await post(app, body, headers)
    return (time.process_time() - started) * 1000 / (len(bodies) - 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", nargs="?", const="search", choices=("search", "member", "guest"))
    args = parser.parse_args()
    app = build_app()
    count = args.requests + 20
    bare = [orjson.dumps({"query": "{ __typename }"})] * count
    searches = [orjson.dumps({"query": SEARCH, "variables": {"q": f"query {i}"}}) for i in range(count)]
    member = member_headers(app)
    print(f"bare {{ __typename }}: {asyncio.run(cpu_ms_per_request(app, bare)):.3f} ms CPU per request")
    print(f"searchCodes ({HITS} hits): {asyncio.run(cpu_ms_per_request(app, searches)):.3f} ms CPU per request")
    print(f"code page, PRO member: {asyncio.run(cpu_ms_per_request(app, pages(count), member)):.3f} ms CPU per request")
    print(f"code page, cookie-less guest: {asyncio.run(cpu_ms_per_request(app, pages(count))):.3f} ms CPU per request")
    calls = app.rpc.calls  # the RequestFakeRpc
    assert calls["accounts.authenticate"] == 1 and calls["codes.get_codes"] == len(CODES), calls  # as in make bench
    if args.profile:
        if args.profile == "search":
            bodies = [orjson.dumps({"query": SEARCH, "variables": {"q": f"again {i}"}}) for i in range(count)]
        else:
            bodies = pages(count)
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(cpu_ms_per_request(app, bodies, member if args.profile == "member" else ()))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
