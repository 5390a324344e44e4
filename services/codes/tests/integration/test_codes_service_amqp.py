"""The codes service over the real broker (a fresh vhost per test, via `rabbit_config`),
with a real SQLite store and search index in tmp loaded from the official HCPCS file."""

from __future__ import annotations

import shutil

import pytest
from nameko.events import event_handler
from nameko.standalone.rpc import ServiceRpcClient
from nameko.testing.services import entrypoint_waiter

from codes.loading import load_available
from codes.service import CodesService
from medcode_common.settings import load_settings
from medcode_contracts import codes as contract
from medcode_contracts.events import EditionLoaded, parse

pytestmark = pytest.mark.rabbit


@pytest.fixture
def loaded(tmp_path, monkeypatch, data_mirror):
    """Environment of a codes service whose store holds HCPCS (edition_loaded pending)."""
    mirror = tmp_path / "mirror"
    (mirror / "hcpcs").mkdir(parents=True)
    shutil.copy(data_mirror / "hcpcs" / "HCPC2025_OCT_ANWEB.csv", mirror / "hcpcs")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATA_MIRROR", str(mirror))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SEARCH_BACKEND", "embedded")
    [report] = load_available(load_settings(), [contract.CodeSystem.HCPCS], show_progress=False)
    assert report.status == "loaded"
    return report


class EditionListener:
    """A consumer of codes.events, as another team's service would be."""

    name = "edition_listener"
    received: list = []

    @event_handler(contract.SERVICE, contract.Events.EDITION_LOADED)
    def on_edition_loaded(self, payload):
        self.received.append(payload)


def test_get_codes_over_amqp(rabbit_config, container_factory, loaded):
    container = container_factory(CodesService)
    container.start()
    with ServiceRpcClient(contract.SERVICE) as codes:
        pages = codes.get_codes(
            {
                "refs": [
                    {"system": "HCPCS", "code": "j9035"},
                    {"system": "CPT", "code": "99213"},
                    {"system": "MODIFIER", "code": "A1"},
                ]
            }
        )
        editions = codes.list_editions()
        health = codes.health()
    j9035, missing, a1 = pages
    assert j9035["code"] == "J9035" and j9035["title"] == "Injection, bevacizumab, 10 mg"
    assert j9035["short_title"] == "Bevacizumab injection" and j9035["billable"] is True
    assert j9035["edition"]["name"] == "HCPCS Level II 2025 October update"
    assert missing is None
    assert (a1["system"], a1["title"]) == ("MODIFIER", "Dressing for one wound")
    assert [(e["system"], e["counts"]["codes"]) for e in editions] == [("HCPCS", 8_846)]
    assert health["details"] == {"HCPCS": "HCPCS Level II 2025 October update"}


def test_get_codes_refuses_a_bad_request(rabbit_config, container_factory, loaded):
    from nameko.exceptions import RemoteError

    container = container_factory(CodesService)
    container.start()
    with ServiceRpcClient(contract.SERVICE) as codes:
        with pytest.raises(RemoteError) as caught:
            codes.get_codes({"refs": [{"system": "NOPE", "code": "x"}]})
    assert caught.value.exc_type == "BadRequest" and "refs.0.system" in str(caught.value)


def test_edition_loaded_is_published_on_codes_events(rabbit_config, container_factory, loaded):
    EditionListener.received = []
    listener = container_factory(EditionListener)
    listener.start()  # its queue is bound before the codes service relays the outbox
    codes = container_factory(CodesService)
    with entrypoint_waiter(listener, "on_edition_loaded", timeout=20):
        codes.start()
    [payload] = EditionListener.received
    event = parse(payload)
    assert isinstance(event, EditionLoaded)
    assert (event.system, event.edition, event.codes, event.added) == (
        "HCPCS",
        "HCPCS Level II 2025 October update",
        8_846,
        8_846,
    )


def test_search_codes_over_amqp(rabbit_config, container_factory, loaded):
    container = container_factory(CodesService)
    container.start()
    with ServiceRpcClient(contract.SERVICE) as codes:
        result = codes.search_codes({"query": "bevacizumab", "systems": ["HCPCS"], "first": 5})
        by_code = codes.search_codes({"query": "j9035"})
    assert "J9035" in [hit["node"]["code"] for hit in result["hits"]]
    assert by_code["hits"][0]["node"]["code"] == "J9035"


def test_search_codes_many_answers_each_search_as_search_codes_would(rabbit_config, container_factory, loaded):
    container = container_factory(CodesService)
    container.start()
    searches = [
        {"query": "bevacizumab", "systems": ["HCPCS"], "first": 5},
        {"query": "j9035"},
        {"query": "wheelchair", "first": 3, "after": "not a cursor"},  # this one alone is refused
        {"query": "wheelchair", "first": 3},
    ]
    with ServiceRpcClient(contract.SERVICE) as codes:
        outcomes = codes.search_codes_many({"searches": searches})
        alone = [codes.search_codes(search) for search in (searches[0], searches[1], searches[3])]
        from nameko.exceptions import RemoteError

        with pytest.raises(RemoteError) as refused:
            codes.search_codes(searches[2])
        with pytest.raises(RemoteError) as empty:
            codes.search_codes_many({"searches": []})
    assert [o["result"] for o in (outcomes[0], outcomes[1], outcomes[3])] == alone
    assert all(o.get("error") is None for o in (outcomes[0], outcomes[1], outcomes[3]))
    error = outcomes[2]["error"]
    assert outcomes[2].get("result") is None
    assert (error["exc_type"], error["value"]) == (refused.value.exc_type, refused.value.value)
    assert error["exc_path"] == "medcode_contracts.errors.BadRequest"
    assert [contract.SearchOutcome.model_validate(o) for o in outcomes]  # within the contract
    assert empty.value.exc_type == "BadRequest"


def test_cache_usage_counts_each_cache_against_its_bound(rabbit_config, container_factory, loaded, monkeypatch):
    monkeypatch.setenv("CODES_PAGE_CACHE_SIZE", "2")
    monkeypatch.setenv("CODES_SQLITE_CACHE_KIB", "256")
    container = container_factory(CodesService)
    container.start()
    refs = [{"system": "HCPCS", "code": code} for code in ("J9035", "G0008", "A0021")]
    with ServiceRpcClient(contract.SERVICE) as codes:
        codes.get_codes({"refs": refs})
        codes.search_codes({"query": "bevacizumab", "first": 5})
        usage = codes.cache_usage()
    assert usage["code_pages"] == {"entries": 2, "bound": 2}  # three pages asked, two kept
    assert usage["search_analysed_words"]["entries"] > 0
    assert {"ptp_rows", "claim_lookups", "search_typo_distances", "search_cut_titles"} <= set(usage)
    for name, counted in usage.items():
        assert counted["entries"] <= counted["bound"], name
    # The process's SQLite connections keep at most CODES_SQLITE_CACHE_KIB of pages.
    from medcode_common.nameko_storage import shared_engine

    with shared_engine("codes").connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -256
