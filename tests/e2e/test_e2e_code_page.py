"""The code page a coder reads, end to end through the gateway: the plain-language
description (every sentence citing its file), Medicare coverage (lab NCDs, LCDs and
articles), the Medicare Code Editor's edits, ICD-9-CM titles on GEM targets, and the claim
check's coverage and code-edit findings, on the real CMS files of the mirror.

Premium sections are read by a fresh FREE account (its own quota, no guest IP cap)."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = pytest.mark.rabbit

DESCRIPTION = "description { text sentences { text source } }"


def gql(stack, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{stack.url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
def member(code_sets) -> str:
    """The token of a new FREE account."""
    data = gql(
        code_sets,
        "mutation($i: RegisterInput!) { register(input: $i) { token } }",
        {
            "i": {
                "email": f"coder-{uuid.uuid4().hex[:10]}@example.org",
                "password": "correct horse battery",
                "name": "Code Page Tester",
            }
        },
    )
    return data["register"]["token"]


@pytest.mark.parametrize(
    "system, code, says, cites",
    [
        (
            "ICD10PCS",
            "0DTJ4ZZ",
            [
                "Resection means: cutting out or off, without replacement, all of a body part",
                "Appendix",
                "The Percutaneous Endoscopic approach means: entry, by puncture",
            ],
            [
                "icd10pcs_definitions_2026.xml (root operation definitions)",
                "icd10pcs_definitions_2026.xml (Approach definitions)",
            ],
        ),
        (
            "ICD10CM",
            "K22.0",
            [
                "it is one of the diseases of esophagus, stomach and duodenum (K20-K31)",
                "It is also called: Achalasia NOS; Cardiospasm.",
                "(Excludes1): congenital cardiospasm (Q39.5)",
                "these terms lead to it",
            ],
            [
                "icd10c-tabular-April-1-2026.xml (chapter, block and category)",
                # the index edition: the Alphabetic Index with the External Cause Index and the Table of Drugs
                "ICD10CM_2025_Index_flattened.csv.gz + icd-10-cm-eindex-2025.xml + icd-10-cm-drug-2025.xml"
                " (Alphabetic Index terms)",
            ],
        ),
        (
            "HCPCS",
            "J9035",
            [
                "chemotherapy drugs (J9000-J9999)",
                "Its official descriptor reads: Injection, bevacizumab, 10 mg.",
                "one unit stands for 10 mg",
            ],
            ["HCPC2025_OCT_ANWEB.csv (LONG DESCRIPTION)"],
        ),
    ],
)
def test_description_sentences_each_cite_their_source(code_sets, system, code, says, cites):
    # A guest's page, whatever the meter says: the description is shown like the descriptor.
    page = gql(
        code_sets,
        f"query($s: CodeSystem!, $c: String!) {{ code(system: $s, code: $c) {{ code {DESCRIPTION} }} }}",
        {"s": system, "c": code},
    )["code"]
    description = page["description"]
    assert description["text"] == " ".join(s["text"] for s in description["sentences"])
    for phrase in says:
        assert phrase in description["text"], (phrase, description["text"])
    sources = [s["source"] for s in description["sentences"]]
    assert all(sources) and all(s for s in description["sentences"] if s["text"])
    for source in cites:
        assert source in sources, (source, sources)


COVERAGE = """query($s: CodeSystem!, $c: String!) { code(system: $s, code: $c) { access { granted }
  coverage { ncds { number title procedureCodes otherDiagnoses resolution coveredCount deniedCount source
                    covered: diagnoses(resolution: COVERED, first: 3) { code title resolution }
                    denied: diagnoses(resolution: DENIED, first: 3) { code resolution } }
             documents { documentId documentType title contractor effectiveDate matched } documentsTotal }
  codeEdits { edit number title message source } } }"""


def test_lab_code_under_ncd_190_12_shows_the_ncd_and_a_covered_diagnosis(code_sets, member):
    page = gql(code_sets, COVERAGE, {"s": "CPT", "c": "87086"}, member)["code"]
    assert page["access"]["granted"] is True
    [ncd] = page["coverage"]["ncds"]
    assert (ncd["number"], ncd["title"]) == ("190.12", "Urine Culture, Bacterial")
    assert set(ncd["procedureCodes"]) == {"87086", "87088"} and ncd["otherDiagnoses"] == "NOT_SUPPORTED"
    assert ncd["coveredCount"] > 700 and ncd["deniedCount"] > 200
    assert ncd["covered"][0] == {"code": "A02.1", "title": "Salmonella sepsis", "resolution": "COVERED"}
    assert all(d["resolution"] == "DENIED" for d in ncd["denied"])
    assert "lab_ncd_2026q1_icd10_codes.csv" in ncd["source"]


def test_hcpcs_drug_page_lists_the_lcds_and_articles_of_its_subject(code_sets, member):
    coverage = gql(code_sets, COVERAGE, {"s": "HCPCS", "c": "J9035"}, member)["code"]["coverage"]
    assert coverage["documentsTotal"] == len(coverage["documents"]) >= 1
    article = next(d for d in coverage["documents"] if d["documentId"] == "A52370")
    assert (
        article["title"] == "Billing and Coding: Bevacizumab and biosimilars" and article["documentType"] == "Article"
    )
    assert article["contractor"].startswith("National Government Services") and article["effectiveDate"] == "2025-07-13"
    assert article["matched"] == ["bevacizumab"]


def test_diagnosis_page_shows_the_ncds_that_list_it(code_sets, member):
    ncds = gql(code_sets, COVERAGE, {"s": "ICD10CM", "c": "Z00.00"}, member)["code"]["coverage"]["ncds"]
    urine = next(n for n in ncds if n["number"] == "190.12")
    assert urine["resolution"] == "DENIED"


def test_manifestation_code_page_shows_its_mce_edit(code_sets, member):
    edits = gql(code_sets, COVERAGE, {"s": "ICD10CM", "c": "D63.0"}, member)["code"]["codeEdits"]
    manifestation = next(e for e in edits if e["edit"] == "MANIFESTATION_PDX")
    assert manifestation["number"] == "6" and manifestation["title"] == "Manifestation code as principal diagnosis"
    assert "should not be used as a principal diagnosis" in manifestation["message"]
    assert manifestation["source"] == (
        "Definitions_of_Medicare_Code_Edits_v43_1.txt (Medicare Code Editor v43.1 (April 2026))"
    )


def test_k22_0_crosswalk_to_530_0_has_its_icd9_title(code_sets, member):
    page = gql(
        code_sets,
        '{ code(system: ICD10CM, code: "K22.0") { crosswalks { kind targetCode target { code title } } } }',
        token=member,
    )["code"]
    targets = {(c["targetCode"], c["target"]["title"]) for c in page["crosswalks"]}
    assert ("530.0", "Achalasia and cardiospasm") in targets


CHECK = """query($input: ClaimInput!) { checkClaim(input: $input) {
  clean editions findings { kind codes message source lines } } }"""


def test_claim_with_the_lab_code_and_a_denied_diagnosis_gets_a_coverage_finding(code_sets):
    result = gql(
        code_sets,
        CHECK,
        {"input": {"dateOfService": "2026-02-02", "lines": [{"code": "87086"}], "diagnoses": ["Z00.00"]}},
    )["checkClaim"]
    assert result["clean"] is False
    [coverage] = [f for f in result["findings"] if f["kind"] == "COVERAGE"]
    assert coverage["codes"] == ["87086", "Z00.00"] and coverage["lines"] == [1]
    assert "NCD 190.12 Urine Culture, Bacterial" in coverage["message"] and "denied" in coverage["message"]
    assert "lab_ncd_2026q1" in coverage["source"]
    # A supporting diagnosis clears it.
    covered = gql(
        code_sets,
        CHECK,
        {"input": {"dateOfService": "2026-02-02", "lines": [{"code": "87086"}], "diagnoses": ["N39.0"]}},
    )["checkClaim"]
    assert not [f for f in covered["findings"] if f["kind"] in ("COVERAGE", "CODE_EDIT")]


def test_claim_check_applies_the_code_editor_to_the_diagnoses(code_sets):
    result = gql(
        code_sets,
        CHECK,
        {
            "input": {
                "dateOfService": "2026-02-02",
                "lines": [{"code": "87086"}],
                "diagnoses": ["D63.0", "C50.911"],
                "patientAge": 70,
                "patientSex": "female",
            }
        },
    )["checkClaim"]
    edits = [f for f in result["findings"] if f["kind"] == "CODE_EDIT"]
    assert any("D63.0 is a manifestation code" in f["message"] for f in edits)
    assert all("Definitions_of_Medicare_Code_Edits_v43_1.txt" in f["source"] for f in edits)
    bad = httpx.post(
        f"{code_sets.url}/graphql",
        timeout=30,
        json={"query": CHECK, "variables": {"input": {"lines": [{"code": "87086"}], "diagnoses": ["not a code"]}}},
    ).json()
    assert bad["data"] is None and bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "diagnoses" in bad["errors"][0]["message"]


def test_concurrent_views_are_metered_in_coalesced_calls_each_on_its_own_meter(code_sets):
    """Members' views that reach the gateway together go to metering as check_views_many
    calls; each member's meter counts its own views only, as if each came alone."""
    import asyncio

    members = [
        gql(
            code_sets,
            "mutation($i: RegisterInput!) { register(input: $i) { token } }",
            {
                "i": {
                    "email": f"together-{uuid.uuid4().hex[:10]}@example.org",
                    "password": "correct horse battery",
                    "name": "Coalesced Viewer",
                }
            },
        )["register"]["token"]
        for _ in range(6)
    ]
    page = "query($c: String!) { code(system: ICD10CM, code: $c) { code access { granted remaining } } }"
    codes = ["K22.0", "I50.9", "E11.9", "J44.1"]

    async def together(code: str) -> list[dict]:
        async with httpx.AsyncClient(base_url=code_sets.url, timeout=30) as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/graphql",
                        json={"query": page, "variables": {"c": code}},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    for token in members
                )
            )
        return [a.json()["data"]["code"]["access"] for a in answers]

    gql(code_sets, page, {"c": codes[0]}, token=members[0])  # the page in the gateway's cache: metered at once
    before = code_sets.rpc_calls("metering.check_views_many")
    remaining = None
    for n, code in enumerate(codes):
        accesses = asyncio.run(together(code))
        assert all(a["granted"] for a in accesses), accesses
        if n == 0:  # the first member saw this page already: free
            remaining = accesses[1]["remaining"]
            assert accesses[0]["remaining"] == remaining
        else:
            remaining -= 1
        assert [a["remaining"] for a in accesses] == [remaining] * len(members), (code, accesses)
    assert code_sets.rpc_calls("metering.check_views_many") > before, "no view was ever coalesced"
