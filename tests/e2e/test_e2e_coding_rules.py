"""Coding rules end to end through the gateway's HTTP endpoint: checkClaim, modifier, the
code-page rules sections, CPT codes without a licence and lay-term search, on the real
CMS files (the stack's practitioner PTP table holds the real rows of tests/conftest.py's
E2E_PTP_CODES)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.rabbit

CHECK = """query($input: ClaimInput!) { checkClaim(input: $input) {
  clean findings { kind codes message modifierAllowed source } } }"""
SEARCH = """query($q: String!) { searchCodes(query: $q, first: 5) { edges { node { system code title } } } }"""


def check(stack, lines, date_of_service="2024-08-01", setting="practitioner") -> dict:
    body = stack.graphql(CHECK, {"input": {"dateOfService": date_of_service, "setting": setting, "lines": lines}})
    assert "errors" not in body, body
    return body["data"]["checkClaim"]


def kinds(result: dict) -> list[str]:
    return sorted(f["kind"] for f in result["findings"])


def test_bundled_pair_without_modifier_is_a_finding_citing_the_ptp_file(code_sets):
    # 11042/97597: an active practitioner edit with modifier indicator 1.
    result = check(code_sets, [{"code": "11042"}, {"code": "97597"}])
    assert result["clean"] is False
    [finding] = result["findings"]
    assert finding["kind"] == "PTP" and finding["codes"] == ["11042", "97597"]
    assert finding["modifierAllowed"] is True
    assert "medicare_ptp_practitioner_v302r0" in finding["source"] and "v30.2" in finding["source"]


def test_bundled_pair_with_an_ncci_modifier_on_column_two_is_clean(code_sets):
    result = check(code_sets, [{"code": "11042"}, {"code": "97597", "modifiers": ["59"]}])
    assert result["clean"] is True
    assert kinds(result) == ["PTP_MODIFIER"]


def test_indicator_zero_pair_stays_bundled_with_a_modifier(code_sets):
    # 36415/36591: active edit with modifier indicator 0.
    result = check(code_sets, [{"code": "36415"}, {"code": "36591", "modifiers": ["59"]}])
    assert result["clean"] is False
    [finding] = result["findings"]
    assert finding["kind"] == "PTP" and finding["modifierAllowed"] is False


def test_units_above_the_mue(code_sets):
    # Practitioner MUE of 11042 is 1 (MCR_MUE_PractitionerServices_Eff_04-01-2026.csv).
    result = check(code_sets, [{"code": "11042", "units": 3}])
    assert result["clean"] is False
    [finding] = result["findings"]
    assert finding["kind"] == "MUE" and finding["codes"] == ["11042"]
    assert "MCR_MUE_PractitionerServices_Eff_04-01-2026.csv" in finding["source"]


def test_unknown_code_is_a_finding_not_an_error(code_sets):
    result = check(code_sets, [{"code": "ZZZ99"}, {"code": "99213"}])
    assert result["clean"] is False
    assert kinds(result) == ["UNKNOWN_CODE"]
    assert result["findings"][0]["codes"] == ["ZZZ99"]


def test_bad_claim_is_bad_user_input(code_sets):
    body = code_sets.graphql(CHECK, {"input": {"setting": "on the moon", "lines": [{"code": "11042"}]}})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "setting" in body["errors"][0]["message"]


def test_modifier_lt(code_sets):
    body = code_sets.graphql(
        '{ modifier(code: "lt") { code title description system ncciAssociated } none: modifier(code: "9Z") { code } }'
    )
    assert "errors" not in body, body
    lt = body["data"]["modifier"]
    assert lt["code"] == "LT" and lt["system"] == "HCPCS" and lt["ncciAssociated"] is True
    assert "left side" in lt["title"].lower()
    assert body["data"]["none"] is None


PROCEDURE_PAGE = """query($system: CodeSystem!, $code: String!) { code(system: $system, code: $code) {
  code title descriptorNote
  ptpEdits(first: 500) { column1 column2 modifierIndicator effectiveFrom effectiveFromExact deletedOn rationale
                         setting source }
  mue { setting maxUnits adjudicationIndicator source } } }"""


def test_cpt_code_without_licence_has_a_page_with_its_edits(code_sets):
    body = code_sets.graphql(PROCEDURE_PAGE, {"system": "CPT", "code": "11042"})
    assert "errors" not in body, body
    page = body["data"]["code"]
    assert page["title"] == "CPT 11042 (descriptor requires an AMA CPT licence)"
    assert page["descriptorNote"].startswith("The CPT descriptor needs an AMA CPT licence")
    edit = next(e for e in page["ptpEdits"] if (e["column1"], e["column2"]) == ("11042", "97597"))
    assert edit["modifierIndicator"] == 1 and edit["deletedOn"] is None and edit["setting"] == "practitioner"
    # The mirror's v30.2 table has no effective dates: the release's (2024 Q3) stands in.
    assert (edit["effectiveFrom"], edit["effectiveFromExact"]) == ("2024-07-01", False)
    assert any(e["column2"] == "11042" for e in page["ptpEdits"])  # both directions
    assert {"setting": "practitioner", "maxUnits": 1} in [
        {"setting": m["setting"], "maxUnits": m["maxUnits"]} for m in page["mue"]
    ]


def test_hcpcs_code_page_has_edits_and_mue(code_sets):
    body = code_sets.graphql(PROCEDURE_PAGE, {"system": "HCPCS", "code": "G0008"})
    assert "errors" not in body, body
    page = body["data"]["code"]
    assert page["descriptorNote"] is None and "CPT" not in page["title"]
    assert page["ptpEdits"] and all("G0008" in (e["column1"], e["column2"]) for e in page["ptpEdits"])
    assert page["mue"]


def test_icd10cm_page_has_crosswalks_and_lay_terms(code_sets):
    body = code_sets.graphql(
        '{ code(system: ICD10CM, code: "I21.9") { code layTerms ptpEdits { column1 } '
        "crosswalks { kind approximate noMap targetSystem targetCode target { code } } } }"
    )
    assert "errors" not in body, body
    page = body["data"]["code"]
    assert "heart attack" in page["layTerms"]
    assert page["ptpEdits"] == []
    forward = [c for c in page["crosswalks"] if c["kind"] == "GEM_I10_TO_I9"]
    assert {"targetSystem": "ICD9CM", "targetCode": "410.90"} in [
        {"targetSystem": c["targetSystem"], "targetCode": c["targetCode"]} for c in forward
    ]
    assert all(c["target"]["code"] == c["targetCode"] for c in page["crosswalks"])


def test_rules_sections_of_several_pages_make_one_rpc(code_sets):
    # Codes no other test opens: the gateway keeps rules it has fetched (gateway.edition_cache).
    query = (
        '{ a: code(system: CPT, code: "99214") { mue { maxUnits } } '
        'b: code(system: HCPCS, code: "G0009") { ptpEdits(first: 3) { column1 } } '
        'c: code(system: ICD10CM, code: "I11.9") { crosswalks { kind } } }'
    )
    before = code_sets.rpc_calls("codes.get_code_rules")
    body = code_sets.graphql(query)
    assert "errors" not in body, body
    assert all(body["data"].values()), body
    assert code_sets.rpc_calls("codes.get_code_rules") == before + 1
    assert code_sets.graphql(query) == body
    assert code_sets.rpc_calls("codes.get_code_rules") == before + 1  # the second time: from the cache


@pytest.mark.parametrize("query, code", [("heart attack", "I21.9"), ("high blood pressure", "I10")])
def test_lay_terms_find_the_codes(code_sets, query, code):
    body = code_sets.graphql(SEARCH, {"q": query})
    assert "errors" not in body, body
    assert code in [edge["node"]["code"] for edge in body["data"]["searchCodes"]["edges"]]


def test_cpt_code_is_a_search_hit_by_its_number(code_sets):
    body = code_sets.graphql(SEARCH, {"q": "97597"})
    assert ("CPT", "97597") in [(e["node"]["system"], e["node"]["code"]) for e in body["data"]["searchCodes"]["edges"]]
