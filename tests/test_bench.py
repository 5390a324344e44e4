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
    "rpc_c8_rps": 1500.0,
    "search_distinct_c8_rps": 300.0,
    "search_distinct_c1_p50_ms": 12.0,
    "search_distinct_c1_p50_ms_rpc_p50_ms": 5.0,  # the bare RPC of the same paired round
    "search_repeated_c8_rps": 380.0,
    "engine_search_p50_ms": 1.5,
    "tantivy_query_p50_ms": 0.5,
    "code_page_pro_c8_rps": 100.0,
    "code_page_pro_c1_p50_ms": 9.0,
    "code_page_pro_c1_p50_ms_rpc_p50_ms": 4.0,
    "code_page_guest_c20_rps": 600.0,
    "jobs_c8_rps": 200.0,
    "ask_c1_p50_ms": 50.0,
    "check_claim_graphql_c1_p50_ms": 8.0,
    "ptp_load_s": 15.0,
    "ptp_sqlite_s": 12.0,
    "check_claim_p50_ms": 0.5,
    "check_claim_unseen_p50_ms": 0.15,
    "check_claim_repeated_p50_ms": 0.2,
    "check_claim_sqlite_p50_ms": 0.1,
    "first_run_ready_s": 75.0,
    "rss_mb": {"codes": {"idle": 120.0, "loaded": 160.0}, "gateway": {"idle": 90.0, "loaded": 100.0}},
}
# The codes service's caches filled to their bounds as well (benchmarks.codes_memory).
FILLED = {**FIGURES, "rss_mb": {**FIGURES["rss_mb"], "codes": {"idle": 110.0, "loaded": 120.0, "full": 144.0}}}


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
    page_c1 = rows["code page p50 at c=1"]  # against the bare RPC of its own round, not rpc_p50_ms
    assert (page_c1.baseline, page_c1.ratio, page_c1.holds) == (4.0, pytest.approx(2.25), False)
    assert rows["code page as a PRO member (c=8)"].holds is False  # 0.25x < 0.5x
    assert rows["code page, cookie-less guest (c=20)"].holds is True  # 0.6x
    assert rows["NCCI PTP practitioner load"].ratio == pytest.approx(1.25)
    assert rows["NCCI PTP practitioner load"].holds is True  # <= 1.5x
    assert (
        rows["check_claim, 10 lines, in the service p50 (a new claim of codes seen before)"].holds is False
    )  # 0.5 ms > 0.2 ms absolute
    assert rows["check_claim, 10 lines, in the service p50 (codes no claim named before)"].holds is True
    assert rows["first `make run` on a fresh data directory"].holds is False  # 75 s > 60 s
    assert rows["jobs search (c=8)"].holds is None  # no goal
    assert rows["RSS codes, idle after a full load"].holds is False
    assert rows["RSS gateway, idle after a full load"].holds is True


def test_the_codes_rss_with_every_cache_full_has_its_row_held_to_the_goal():
    rows = by_path(report.build_rows(FILLED))
    full = rows["RSS codes with every cache full"]
    assert (full.figure, full.baseline, full.holds) == (144.0, 120.0, True)
    assert full.ratio == pytest.approx(1.2) and full.goal == "abs <= 150"
    assert "RSS gateway with every cache full" not in rows  # only the processes the bench filled
    over = {**FILLED, "rss_mb": {"codes": {"idle": 110.0, "loaded": 120.0, "full": 151.0}}}
    assert by_path(report.build_rows(over))["RSS codes with every cache full"].holds is False
    text = report.render(report.build_rows(FILLED))
    assert (
        "| RSS codes with every cache full | 144 MB | idle after a full load 120 MB | 1.20x | <= 150 MB | yes |" in text
    )
    document = json.loads(json.dumps(report.latest_json(FILLED, report.build_rows(FILLED), {})))
    assert document["figures"]["rss_mb"]["codes"]["full"] == 144.0


def test_the_codes_cache_fill_names_enough_ptp_rows_and_distinct_claims():
    from benchmarks import codes_memory

    bounds = codes_memory.Bounds(pages=10, ptp_rows=1000, claim_lookups=40)
    column1 = [(f"{n:05d}", 10 + n % 50) for n in range(600)] + [("99999", 900)]
    naming, combinations = codes_memory.claims(column1, bounds)
    named = [line["code"] for claim in naming for line in claim["lines"]]
    counts = dict(column1)
    assert len(named) == len(set(named))  # each code once
    assert sum(counts[code] + 1 for code in named) >= 1.5 * bounds.ptp_rows
    assert "99999" not in named  # rows it would never be kept with
    assert len(combinations) == 60  # 1.5x the lookups kept, each a different claim
    assert len({tuple(line["code"] for line in claim["lines"]) for claim in combinations}) == 60
    combined = {line["code"] for claim in combinations for line in claim["lines"]}
    assert combined <= set(named) and sum(counts[code] + 1 for code in combined) <= 0.9 * bounds.ptp_rows
    assert all(len(claim["lines"]) == codes_memory.CLAIM_LINES for claim in naming[:-1] + combinations)


def test_a_paired_row_reports_the_round_with_the_median_ratio_figure_and_baseline_together():
    rounds = [
        {"p50_ms": 3.0, "rpc_p50_ms": 1.0, "ratio": 3.0},  # a noisy minute for the row alone
        {"p50_ms": 2.2, "rpc_p50_ms": 1.1, "ratio": 2.0},
        {"p50_ms": 1.9, "rpc_p50_ms": 1.0, "ratio": 1.9},
    ]
    assert report.median_round(rounds) is rounds[1]  # not the median figure (2.2) over another baseline
    assert report.median_round(rounds[:2]) is rounds[0]  # even count: the upper middle
    assert report.median_round(rounds[1:2]) is rounds[1]


def test_rpc_calls_per_request_show_coalesced_calls_below_one():
    before = {"codes.search_codes": 10.0, "careers.health": 3.0}
    after = {"codes.search_codes": 30.0, "codes.search_codes_many": 20.0, "careers.health": 3.0}
    per_request = report.rpc_calls_per_request(before, after, 100)
    assert per_request == {"codes.search_codes": 0.2, "codes.search_codes_many": 0.2}  # nothing new: left out
    profile = {**report.cpu_profile({"gateway": 1.0}, 100, 1.0), "rpc_calls_per_request": per_request}
    assert report.profile_text(profile).endswith(
        "; RPCs per request: codes.search_codes 0.2, codes.search_codes_many 0.2"
    )
    assert report.rpc_calls_per_request(before, after, 0) == {}


def test_a_figure_not_measured_still_has_its_row():
    rows = by_path(report.build_rows({"search_distinct_c1_p50_ms_rpc_p50_ms": 5.0}))
    row = rows["searchCodes p50 at c=1"]
    assert (row.figure, row.ratio, row.holds) == (None, None, None)
    text = report.render(list(rows.values()))
    assert f"| searchCodes p50 at c=1 | n/a | {report.PAIRED_RPC} 5.0 ms |  | <= 2x | n/a |" in text


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
        "| check_claim, 10 lines, in the service p50 (a new claim of codes seen before) | 0.5 ms "
        "| indexed pair lookup in plain SQLite p50 0.1 ms | 5.00x | <= 0.2 ms | NO |" in lines
    )
    document = json.loads(json.dumps(report.latest_json(FIGURES, rows, report.machine("3.12.1", "4.1.0"))))
    assert {"cpu", "cores", "memory_mb", "os", "python", "sqlite", "rabbitmq", "wrk"} <= set(document["machine"])
    assert document["machine"]["rabbitmq"] == "3.12.1"
    assert document["figures"]["rss_mb"]["codes"] == {"idle": 120.0, "loaded": 160.0}
    assert len(document["rows"]) == len(rows)
    assert document["rows"][0]["figure_key"] == report.SPECS[0].figure


# -- the CPU profile ------------------------------------------------------------------------
PROFILED = {
    **FIGURES,
    "cpu_ms_per_request": {
        "code_page_pro_c8_rps": report.cpu_profile(
            {"gateway": 6.0, "codes": 0.004, "metering": 1.5, "rabbitmq": 2.0, "wrk": 0.5}, 800, 8.0, 15.5, 2
        ),
        "bare_gateway_c8_rps": report.cpu_profile({"gateway": 1.0, "wrk": 0.25}, 3200, 8.0, None, 2),
        "rpc_c8_rps": report.cpu_profile({"careers": 0.3, "rabbitmq": 0.4, "bench (RpcClient)": 0.3}, 12000, 8.0),
    },
}


def test_a_cpu_profile_says_where_the_time_went_and_what_two_cores_allow():
    profile = PROFILED["cpu_ms_per_request"]["code_page_pro_c8_rps"]
    assert list(profile["ms_per_request"]) == ["gateway", "rabbitmq", "metering", "wrk", "codes"]  # largest first
    assert profile["total_ms"] == pytest.approx(10.004)
    assert profile["cores_busy"] == pytest.approx(1.0)  # 8 s of CPU in 8 s
    assert profile["machine_cores_busy"] == pytest.approx(1.94)  # other work on the machine too
    assert profile["cpu_bound_rps"] == pytest.approx(199.9)  # 2 cores / 10 ms
    assert report.profile_text(profile) == (
        "gateway 6 + rabbitmq 2 + metering 1.5 + wrk 0.5 + others 0.004 = 10 ms CPU/request; "
        "1 of 2 cores busy (whole machine 1.9); CPU-bound at 200 req/s"
    )


def test_each_unmet_goal_is_shown_with_its_profile_and_its_baseline_s():
    rows = report.build_rows(PROFILED)
    unmet = report.unmet_profiles(rows, PROFILED)
    assert set(unmet) == {row.path for row in rows if row.holds is False}
    page = unmet["code page as a PRO member (c=8)"]
    assert page["figure"]["total_ms"] == pytest.approx(10.004) and page["baseline"]["total_ms"] == 1.25
    assert unmet["first `make run` on a fresh data directory"] == {}  # no load, no profile
    text = report.render_profile(rows, PROFILED)
    assert "- code page as a PRO member (c=8): gateway 6 + rabbitmq 2" in text
    assert "    baseline, bare gateway { __typename } (c=8): gateway 1 + wrk 0.25 = 1.25 ms CPU/request" in text
    assert "- first `make run` on a fresh data directory: measured in one process or as memory" in text
    assert text.splitlines()[-1].startswith(
        "The floor of any RPC-backed request, one bare RPC at c=8: rabbitmq 0.4 + careers 0.3"
    )
    document = report.latest_json(PROFILED, rows, {})
    assert document["unmet_goal_profiles"]["code page as a PRO member (c=8)"]["figure"]["requests"] == 800


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
    assert 0 < load.cpu_seconds < 10  # wrk's own CPU time, measured apart from this process's
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


def test_cpu_time_of_a_process_with_its_children_and_of_the_machine():
    import os
    import subprocess
    import sys

    from benchmarks import memory

    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(30)"
    machine_before = memory.machine_busy_seconds()
    child = subprocess.Popen([sys.executable, "-c", busy])
    try:
        deadline = time.monotonic() + 20
        while memory.cpu_seconds(child.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert memory.cpu_seconds(child.pid) >= 0.3
        assert memory.cpu_by_name({"me": os.getpid()})["me"] >= memory.cpu_seconds(os.getpid()) + 0.3
        assert child.pid in memory.pids_named(memory.PROC.joinpath(str(child.pid), "comm").read_text().strip())
        assert memory.machine_busy_seconds() - machine_before >= 0.3
    finally:
        child.kill()
        child.wait()
    assert memory.cpu_seconds(child.pid) == 0.0  # gone
    before, after = {"gateway": 1.0, "codes": 2.0}, {"gateway": 1.5, "codes": 2.0}
    assert memory.cpu_ms_per_request(before, after, 100) == {"gateway": 5.0, "codes": 0.0}
    assert memory.cpu_ms_per_request(before, after, 0) == {}
