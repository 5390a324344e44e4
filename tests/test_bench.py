"""`make bench`'s own parts, without timing anything: the table and latest.json built from
given figures, and the wrk Lua script against a tiny local app."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from benchmarks import report, wrk
from gateway.testing import free_port

FIGURES = {
    "bare_gateway_c8_rps": 400.0,
    "bare_gateway_c20_rps": 1000.0,
    "bare_gateway_c1_p50_ms": 2.0,
    "rpc_p50_ms": 5.0,
    "search_distinct_c8_rps": 300.0,
    "search_distinct_c1_p50_ms": 12.0,
    "search_repeated_c8_rps": 380.0,
    "engine_search_p50_ms": 1.5,
    "tantivy_query_p50_ms": 0.5,
    "code_page_pro_c8_rps": 100.0,
    "code_page_pro_c1_p50_ms": 9.0,
    "code_page_guest_c20_rps": 600.0,
    "jobs_c8_rps": 200.0,
    "ask_c1_p50_ms": 50.0,
    "check_claim_graphql_c1_p50_ms": 8.0,
    "ptp_load_s": 15.0,
    "ptp_sqlite_s": 12.0,
    "check_claim_p50_ms": 0.5,
    "check_claim_repeated_p50_ms": 0.2,
    "check_claim_sqlite_p50_ms": 0.1,
    "first_run_ready_s": 75.0,
    "rss_mb": {"codes": {"idle": 120.0, "loaded": 160.0}, "gateway": {"idle": 90.0, "loaded": 100.0}},
}


def by_path(rows: list[report.Row]) -> dict[str, report.Row]:
    return {row.path: row for row in rows}


def test_every_row_of_the_table_with_its_ratio_and_verdict():
    rows = by_path(report.build_rows(FIGURES))
    assert set(rows) == {spec.path for spec in report.SPECS} | {
        "RSS codes, idle after a full load",
        "RSS gateway, idle after a full load",
    }
    for spec in report.SPECS:
        row = rows[spec.path]
        assert row.figure == FIGURES[spec.figure]
        if spec.baseline:
            assert row.baseline == FIGURES[spec.baseline]
            assert row.ratio == pytest.approx(FIGURES[spec.figure] / FIGURES[spec.baseline])
    distinct = rows["searchCodes, every query different (c=8)"]
    assert (distinct.ratio, distinct.holds) == (pytest.approx(0.75), True)  # >= 0.6x
    assert rows["searchCodes p50 at c=1"].holds is False  # 2.4x > 2x
    assert rows["code page as a PRO member (c=8)"].holds is False  # 0.25x < 0.5x
    assert rows["code page, cookie-less guest (c=20)"].holds is True  # 0.6x
    assert rows["NCCI PTP practitioner load"].ratio == pytest.approx(1.25)
    assert rows["NCCI PTP practitioner load"].holds is True  # <= 1.5x
    assert (
        rows["check_claim, 10 lines, in the service p50 (a claim not checked before)"].holds is False
    )  # 0.5 ms > 0.2 ms absolute
    assert rows["first `make run` on a fresh data directory"].holds is False  # 75 s > 60 s
    assert rows["jobs search (c=8)"].holds is None  # no goal
    assert rows["RSS codes, idle after a full load"].holds is False
    assert rows["RSS gateway, idle after a full load"].holds is True


def test_a_figure_not_measured_still_has_its_row():
    rows = by_path(report.build_rows({"rpc_p50_ms": 5.0}))
    row = rows["searchCodes p50 at c=1"]
    assert (row.figure, row.ratio, row.holds) == (None, None, None)
    text = report.render(list(rows.values()))
    assert "| searchCodes p50 at c=1 | n/a | one bare RPC round trip p50 5.0 ms |  | <= 2x | n/a |" in text


def test_the_printed_table_and_latest_json():
    rows = report.build_rows(FIGURES)
    text = report.render(rows)
    lines = text.splitlines()
    assert lines[0] == "| path | figure | baseline in the same run | ratio | goal | holds |"
    assert len(lines) == 2 + len(rows)
    assert (
        "| searchCodes, every query different (c=8) | 300 req/s | bare gateway { __typename } (c=8) 400 req/s "
        "| 0.75x | >= 0.6x | yes |"
    ) in lines
    assert (
        "| check_claim, 10 lines, in the service p50 (a claim not checked before) | 0.5 ms "
        "| indexed pair lookup in plain SQLite p50 0.1 ms | 5.00x | <= 0.2 ms | NO |" in lines
    )
    document = json.loads(json.dumps(report.latest_json(FIGURES, rows, report.machine("3.12.1", "4.1.0"))))
    assert {"cpu", "cores", "memory_mb", "os", "python", "sqlite", "rabbitmq", "wrk"} <= set(document["machine"])
    assert document["machine"]["rabbitmq"] == "3.12.1"
    assert document["figures"]["rss_mb"]["codes"] == {"idle": 120.0, "loaded": 160.0}
    assert len(document["rows"]) == len(rows)


# -- the wrk script ----------------------------------------------------------------------
seen: list[dict] = []


async def graphql(request: Request) -> JSONResponse:
    body = await request.json()
    seen.append(
        {
            "variables": body["variables"],
            "cookie": request.headers.get("cookie"),
            "csrf": request.headers.get("x-csrf-token"),
            "type": request.headers.get("content-type"),
        }
    )
    if body["variables"].get("fail"):
        return JSONResponse({"data": None, "errors": [{"message": "refused"}]})
    return JSONResponse({"data": {"ok": True}})


@pytest.fixture(scope="module")
def tiny_app():
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (scripts/ensure-wrk.sh installs it; make test runs it)")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/graphql", graphql, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_wrk_posts_each_body_in_turn_with_the_headers(tiny_app):
    seen.clear()
    bodies = [wrk.graphql_body("query($i: Int!) { n(i: $i) }", {"i": i}) for i in range(1000)]
    load = wrk.run(
        tiny_app,
        bodies,
        concurrency=2,
        seconds=1,
        headers={"Cookie": "medcode_session=s; medcode_csrf=c", "X-CSRF-Token": "c"},
    )
    assert load.requests > 0 and load.failed == 0 and load.rps > 0 and load.p50_ms > 0
    assert {entry["cookie"] for entry in seen} == {"medcode_session=s; medcode_csrf=c"}
    assert {entry["csrf"] for entry in seen} == {"c"}
    assert {entry["type"] for entry in seen} == {"application/json"}
    # Two threads, each stepping through its own half of the bodies: no repeats before they wrap.
    assert load.requests >= 200
    assert len({entry["variables"]["i"] for entry in seen[:200]}) == 200


def test_wrk_counts_graphql_errors_as_failures(tiny_app):
    with pytest.raises(wrk.WrkError, match="refused"):
        wrk.run(tiny_app, [wrk.graphql_body("{ x }", {"fail": True})], concurrency=1, seconds=1)
    load = wrk.run(tiny_app, [wrk.graphql_body("{ x }", {"fail": True})], concurrency=1, seconds=1, allow_failures=True)
    assert load.failed == load.requests > 0


def test_rss_counts_a_process_with_its_children():
    import os
    import subprocess
    import sys

    from benchmarks import memory

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # A started interpreter holds several MB; compare with the parent's own RSS read at
        # the same moment (the parent's alone can shrink by a little between two reads).
        deadline = time.monotonic() + 10
        while memory.rss_kb(child.pid) < 4096 and time.monotonic() < deadline:
            time.sleep(0.05)
        sizes = memory.rss_by_name({"me": os.getpid()})
        own = memory.rss_kb(os.getpid()) / 1024
        assert sizes["me"] > own + 3  # the child's memory is counted with its parent's
        assert memory.rss_by_name({"me": os.getpid()}, "RssAnon")["me"] > 0
    finally:
        child.kill()
        child.wait()
    assert memory.rss_by_name({"gone": child.pid}) == {"gone": 0.0}
