"""The gateway's own CPU per request, in-process: the ASGI app (`GraphQLApp`, as
create_app builds it) driven directly, with a fake RPC client answering at once, so
what is timed is HTTP parsing, GraphQL, the resolvers and encoding, and no broker.

    python -m benchmarks.gateway_cpu --requests 3000 [--profile]

Prints CPU ms per request for a bare `{ __typename }` and for searchCodes (every query
distinct, so the search cache misses, as in `make bench`); `--profile` adds cProfile's
top functions for the search.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time

import orjson

from benchmarks.run import SEARCH

HITS = 10


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


def build_app():
    from gateway.app import GraphQLApp
    from gateway.edition_cache import EditionCaches
    from gateway.schema import build_schema
    from gateway.testing import RequestFakeRpc, make_gateway_auth

    rpc = RequestFakeRpc({"codes.search_codes": lambda request: search_result(request["query"])})
    return GraphQLApp(build_schema(introspection=False), rpc, make_gateway_auth(), EditionCaches())


async def post(app, body: bytes) -> bytes:
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
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
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


async def cpu_ms_per_request(app, bodies: list[bytes]) -> float:
    for body in bodies[:20]:  # warm: parsed-document cache, imports
        answer = orjson.loads(await post(app, body))
        assert not answer.get("errors"), answer
    started = time.process_time()
    for body in bodies[20:]:
        await post(app, body)
    return (time.process_time() - started) * 1000 / (len(bodies) - 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    app = build_app()
    bare = [orjson.dumps({"query": "{ __typename }"})] * (args.requests + 20)
    searches = [orjson.dumps({"query": SEARCH, "variables": {"q": f"query {i}"}}) for i in range(args.requests + 20)]
    print(f"bare {{ __typename }}: {asyncio.run(cpu_ms_per_request(app, bare)):.3f} ms CPU per request")
    print(f"searchCodes ({HITS} hits): {asyncio.run(cpu_ms_per_request(app, searches)):.3f} ms CPU per request")
    if args.profile:
        fresh = [orjson.dumps({"query": SEARCH, "variables": {"q": f"again {i}"}}) for i in range(args.requests + 20)]
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(cpu_ms_per_request(app, fresh))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
