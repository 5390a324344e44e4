"""checkClaim, modifier and the code-page rules sections (ptpEdits, mue, crosswalks,
descriptorNote) with a fake RPC client: the mapping of the coding-rules contract onto the
GraphQL schema, the batching into one get_code_rules RPC and the error codes. Every
descriptor here is made up."""

from __future__ import annotations

import pytest

from gateway.context import Context
from gateway.edition_cache import EditionCaches
from gateway.schema import build_schema
from gateway.testing import MADE_UP_PTP_FINDING, FakeRpc, made_up_claim_check, made_up_page
from medcode_contracts.errors import BadRequest


@pytest.fixture(scope="module")
def schema():
    return build_schema()


async def run(schema, query, rpc, variables=None):
    result = await schema.execute(query, variable_values=variables, context_value=Context(rpc=rpc))
    return result.data, [e.formatted for e in result.errors or []]


PAGES = {
    "HCPCS": {"J9035": made_up_page("HCPCS", "J9035"), "G0008": made_up_page("HCPCS", "G0008")},
    "ICD10CM": {"I219": made_up_page("ICD10CM", "I21.9")},
    "CPT": {"99213": made_up_page("CPT", "99213")},
}


def get_codes(kwargs):
    return [PAGES.get(ref["system"], {}).get(ref["code"]) for ref in kwargs["request"]["refs"]]


def edit(column1: str, column2: str, effective: str | None, n: int = 0) -> dict:
    return {
        "column1": column1,
        "column2": column2,
        "modifier_indicator": 1,
        "effective_from": effective,
        "edition_effective_from": "2024-07-01",
        "deleted_on": None,
        "rationale": "Made-up rationale",
        "setting": "outpatient_hospital",
        "source": f"made-up.csv #{n}",
    }


def get_code_rules(kwargs):
    request = kwargs["request"]
    answers = []
    for ref in request["refs"]:
        rules = {"system": ref["system"], "code": ref["code"], "known": True}
        if ref["system"] in ("HCPCS", "CPT"):
            edits = [edit(ref["code"], f"9000{i}", None if i % 2 else "2005-01-01", i) for i in range(5)]
            rules.update(
                ptp_edits=edits[: request["ptp_first"]],
                ptp_total=5,
                mue=[
                    {
                        "setting": "practitioner",
                        "max_units": 2,
                        "adjudication_indicator": "2 Date of Service Edit: Policy",
                        "rationale": "Made-up",
                        "source": "made-up MUE",
                    }
                ],
            )
        if ref["system"] == "CPT":
            rules["descriptor_note"] = "The CPT descriptor needs an AMA CPT licence; made-up."
        if ref["system"] == "ICD10CM":
            rules["crosswalks"] = [
                {
                    "kind": "GEM_I10_TO_I9",
                    "approximate": True,
                    "source": "made-up GEM",
                    "target": {"system": "ICD9CM", "code": "410.90"},
                },
                {
                    "kind": "GEM_I10_TO_I9",
                    "approximate": False,
                    "no_map": True,
                    "source": "made-up GEM",
                    "target": {"system": "ICD9CM", "code": "NoDx", "title": "No ICD-9-CM equivalent"},
                },
            ]
        answers.append(rules)
    return answers


def rules_rpc(**extra) -> FakeRpc:
    return FakeRpc({"codes.get_codes": get_codes, "codes.get_code_rules": get_code_rules, **extra})


async def test_rules_sections_of_every_page_come_from_one_rpc(schema):
    rpc = rules_rpc()
    query = """{
      a: code(system: HCPCS, code: "J9035") { ptpEdits(first: 2) { column1 column2 } mue { maxUnits } }
      b: code(system: HCPCS, code: "G0008") { ptpEdits(first: 4) { column2 } }
      c: code(system: ICD10CM, code: "I21.9") { crosswalks { kind } layTerms }
      d: code(system: CPT, code: "99213") { title descriptorNote mue { setting } } }"""
    data, errors = await run(schema, query, rpc)
    assert errors == []
    assert rpc.calls["codes.get_codes"] == 1
    assert rpc.calls["codes.get_code_rules"] == 1
    ((_, kwargs),) = [r for r in rpc.requests if r[0] == "codes.get_code_rules"]
    assert kwargs["request"]["ptp_first"] == 4  # the largest first of the batch
    assert sorted((r["system"], r["code"]) for r in kwargs["request"]["refs"]) == [
        ("CPT", "99213"),
        ("HCPCS", "G0008"),
        ("HCPCS", "J9035"),
        ("ICD10CM", "I219"),
    ]
    assert [e["column2"] for e in data["a"]["ptpEdits"]] == ["90000", "90001"]
    assert len(data["b"]["ptpEdits"]) == 4
    assert data["a"]["mue"] == [{"maxUnits": 2}]
    assert data["c"]["layTerms"] == ["made-up"]
    assert data["d"]["descriptorNote"].startswith("The CPT descriptor needs an AMA CPT licence")
    assert data["d"]["mue"] == [{"setting": "practitioner"}]


async def test_no_rules_rpc_when_no_rules_section_is_asked(schema):
    rpc = rules_rpc()
    data, errors = await run(schema, '{ code(system: HCPCS, code: "J9035") { code layTerms } }', rpc)
    assert errors == [] and data["code"]["code"] == "J9035"
    assert rpc.calls["codes.get_code_rules"] == 0


async def test_ptp_edit_without_its_own_effective_date_gets_the_release_date(schema):
    data, errors = await run(
        schema,
        '{ code(system: HCPCS, code: "J9035") { ptpEdits(first: 2) '
        "{ effectiveFrom effectiveFromExact deletedOn setting source modifierIndicator } } }",
        rules_rpc(),
    )
    assert errors == []
    exact, from_release = data["code"]["ptpEdits"]
    assert exact == {
        "effectiveFrom": "2005-01-01",
        "effectiveFromExact": True,
        "deletedOn": None,
        "setting": "outpatient hospital",
        "source": "made-up.csv #0",
        "modifierIndicator": 1,
    }
    assert from_release["effectiveFrom"] == "2024-07-01" and from_release["effectiveFromExact"] is False


async def test_ptp_edits_first_out_of_range_is_bad_input(schema):
    rpc = rules_rpc()
    data, errors = await run(
        schema, '{ code(system: HCPCS, code: "J9035") { ptpEdits(first: 5000) { column1 } } }', rpc
    )
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "first must be between 0 and 1000" in errors[0]["message"]
    assert rpc.calls["codes.get_code_rules"] == 0


async def test_gem_target_keeps_the_icd9_code_beside_the_code_summary(schema):
    data, errors = await run(
        schema,
        '{ code(system: ICD10CM, code: "I219") { crosswalks { kind approximate '
        "noMap targetSystem targetCode target { system code title billable } } } }",
        rules_rpc(),
    )
    assert errors == []
    mapped, no_map = data["code"]["crosswalks"]
    assert mapped == {
        "kind": "GEM_I10_TO_I9",
        "approximate": True,
        "noMap": False,
        "targetSystem": "ICD9CM",
        "targetCode": "410.90",
        "target": {"system": "ICD9CM", "code": "410.90", "title": "ICD-9-CM 410.90", "billable": False},
    }
    assert no_map["noMap"] is True and no_map["target"]["title"] == "No ICD-9-CM equivalent"


CHECK = """query($input: ClaimInput!) { checkClaim(input: $input) {
  clean dateOfService setting editions findings { kind codes message modifierAllowed source lines } } }"""

CLAIM_CHECK = made_up_claim_check(MADE_UP_PTP_FINDING)


async def test_check_claim_maps_input_and_answer(schema):
    rpc = FakeRpc({"codes.check_claim": CLAIM_CHECK})
    data, errors = await run(
        schema,
        CHECK,
        rpc,
        {
            "input": {
                "dateOfService": "2024-08-01",
                "setting": "outpatient hospital",
                "lines": [{"code": "11042"}, {"code": "97597", "modifiers": ["59"], "units": 2}],
            }
        },
    )
    assert errors == []
    ((_, kwargs),) = rpc.requests
    # The claim goes as its contract model (coding_rules.ClaimInput) prints it.
    assert kwargs["request"] == {
        "date_of_service": "2024-08-01",
        "setting": "outpatient_hospital",
        "lines": [{"code": "11042", "modifiers": [], "units": 1}, {"code": "97597", "modifiers": ["59"], "units": 2}],
        "diagnoses": [],
        "patient_age": None,
        "patient_sex": None,
    }
    assert data["checkClaim"] == {
        "clean": False,
        "dateOfService": "2024-08-01",
        "setting": "practitioner",
        "editions": ["made-up PTP"],
        "findings": [
            {
                "kind": "PTP",
                "codes": ["11042", "97597"],
                "message": "made-up rationale",
                "modifierAllowed": True,
                "source": "made-up PTP",
                "lines": [1, 2],
            }
        ],
    }


async def test_check_claim_passes_diagnoses_age_and_sex(schema):
    rpc = FakeRpc({"codes.check_claim": CLAIM_CHECK})
    _, errors = await run(
        schema,
        CHECK,
        rpc,
        {
            "input": {
                "lines": [{"code": "87086"}],
                "diagnoses": ["Z00.00", "n39.0"],
                "patientAge": 70,
                "patientSex": "female",
            }
        },
    )
    assert errors == []
    ((_, kwargs),) = rpc.requests
    assert kwargs["request"]["diagnoses"] == ["Z00.00", "N39.0"]
    assert (kwargs["request"]["patient_age"], kwargs["request"]["patient_sex"]) == (70, "female")


async def test_check_claim_with_too_many_diagnoses_costs_no_rpc(schema):
    rpc = FakeRpc({})
    _, errors = await run(schema, CHECK, rpc, {"input": {"lines": [{"code": "87086"}], "diagnoses": ["N39.0"] * 26}})
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"} and "diagnoses" in errors[0]["message"]
    assert rpc.requests == []


async def test_check_claim_against_its_contract_costs_no_rpc(schema):
    rpc = FakeRpc({})
    data, errors = await run(schema, CHECK, rpc, {"input": {"setting": "moon", "lines": [{"code": "11042"}]}})
    assert data is None
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert errors[0]["message"] == "setting: unknown setting 'moon': use practitioner, outpatient_hospital or dme"
    assert rpc.requests == []


async def test_check_claim_refused_by_the_service_is_bad_user_input(schema):
    rpc = FakeRpc({"codes.check_claim": BadRequest("lines.0.code: made-up refusal")})
    data, errors = await run(schema, CHECK, rpc, {"input": {"lines": [{"code": "11042"}]}})
    assert data is None
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert errors[0]["message"] == "lines.0.code: made-up refusal"


async def test_check_claim_with_too_many_lines_costs_no_rpc(schema):
    rpc = FakeRpc({})
    _, errors = await run(schema, CHECK, rpc, {"input": {"lines": [{"code": "11042"}] * 51}})
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"} and rpc.requests == []


async def test_modifier(schema):
    answer = {
        "code": "LT",
        "title": "Made-up left side",
        "description": None,
        "system": "HCPCS",
        "ncci_associated": True,
        "terminated_on": None,
        "source": "made-up modifiers",
    }
    rpc = FakeRpc({"codes.get_modifier": lambda kwargs: answer if kwargs["request"]["code"] == "LT" else None})
    data, errors = await run(
        schema,
        '{ lt: modifier(code: "LT") { code title description system ncciAssociated } '
        'zz: modifier(code: "ZZ") { code } }',
        rpc,
    )
    assert errors == []
    assert data == {
        "lt": {
            "code": "LT",
            "title": "Made-up left side",
            "description": None,
            "system": "HCPCS",
            "ncciAssociated": True,
        },
        "zz": None,
    }


async def test_modifier_code_too_long_is_bad_input(schema):
    _, errors = await run(schema, '{ modifier(code: "TOOLONG") { code } }', FakeRpc({}))
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_icd9cm_is_only_a_crosswalk_target(schema):
    data, errors = await run(schema, '{ code(system: ICD9CM, code: "410.90") { code } }', FakeRpc({}))
    assert errors == [] and data == {"code": None}
    data, errors = await run(schema, '{ searchCodes(query: "infarct", systems: [ICD9CM]) { totalCount } }', FakeRpc({}))
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "ICD9CM cannot be searched" in errors[0]["message"]


# -- the process's caches (gateway.edition_cache): pages and rules asked for once ----------------
async def run_cached(schema, query, rpc, caches):
    result = await schema.execute(query, context_value=Context(rpc=rpc, caches=caches))
    return result.data, [e.formatted for e in result.errors or []]


async def test_a_repeated_page_costs_no_second_get_codes(schema):
    caches, rpc = EditionCaches(), rules_rpc()
    query = '{ code(system: HCPCS, code: "J9035") { title parent { code } } }'
    first = await run_cached(schema, query, rpc, caches)
    assert (
        await run_cached(schema, '{ code(system: HCPCS, code: "j-9035") { title parent { code } } }', rpc, caches)
        == first
    )
    assert first[1] == [] and rpc.calls["codes.get_codes"] == 1
    assert (caches.code_pages.hits, caches.code_pages.misses) == (1, 1)


async def test_no_such_code_is_kept_and_only_missing_pages_are_asked_for(schema):
    caches, rpc = EditionCaches(), rules_rpc()
    data, errors = await run_cached(schema, '{ code(system: HCPCS, code: "Z9999") { title } }', rpc, caches)
    assert data == {"code": None}
    query = '{ a: code(system: HCPCS, code: "Z9999") { title } b: code(system: HCPCS, code: "G0008") { title } }'
    data, errors = await run_cached(schema, query, rpc, caches)
    assert errors == [] and data["a"] is None and data["b"]["title"] == "Made-up title of G0008"
    assert [r["refs"] for r in rpc.sent("codes.get_codes")] == [
        [{"system": "HCPCS", "code": "Z9999"}],
        [{"system": "HCPCS", "code": "G0008"}],  # Z9999 came from the cache
    ]


async def test_a_new_edition_empties_the_caches(schema):
    caches, rpc = EditionCaches(), rules_rpc()
    query = '{ code(system: HCPCS, code: "J9035") { title mue { maxUnits } } }'
    await run_cached(schema, query, rpc, caches)
    caches.clear({"schema": "codes.edition_loaded/1"})
    assert len(caches.code_pages) == len(caches.code_rules) == 0
    data, errors = await run_cached(schema, query, rpc, caches)
    assert errors == [] and rpc.calls["codes.get_codes"] == rpc.calls["codes.get_code_rules"] == 2


async def test_rules_are_kept_and_more_ptp_edits_than_kept_are_fetched_again(schema):
    caches, rpc = EditionCaches(), rules_rpc()

    async def edits(first: int) -> list[str]:
        query = (
            f'{{ code(system: HCPCS, code: "J9035") {{ ptpEdits(first: {first}) {{ column2 }} mue {{ maxUnits }} }} }}'
        )
        data, errors = await run_cached(schema, query, rpc, caches)
        assert errors == [] and data["code"]["mue"] == [{"maxUnits": 2}]
        return [edit["column2"] for edit in data["code"]["ptpEdits"]]

    assert await edits(2) == ["90000", "90001"]
    assert await edits(1) == ["90000"] and rpc.calls["codes.get_code_rules"] == 1  # fewer: from the cache
    assert len(await edits(4)) == 4 and rpc.calls["codes.get_code_rules"] == 2  # more than kept: asked again
    assert rpc.sent("codes.get_code_rules")[-1]["ptp_first"] == 4
    assert len(await edits(3)) == 3 and rpc.calls["codes.get_code_rules"] == 2
    assert len(await edits(50)) == 5 and rpc.calls["codes.get_code_rules"] == 3  # all 5 of them now
    assert len(await edits(1000)) == 5 and rpc.calls["codes.get_code_rules"] == 3  # every edit there is is kept
    assert rpc.calls["codes.get_codes"] == 1
