"""Assistant test fixtures: a migrated database (SQLite and PostgreSQL), made-up code pages
and claim checks behind a fake codes service, and the documents of the mirror."""

from __future__ import annotations

from pathlib import Path

import pytest

from medcode_common.testing import migrated_engine
from medcode_contracts import coding_rules as rules
from medcode_contracts.codes import CodePage, CodeSummary, CodeSystem, SearchHit, SearchResult


@pytest.fixture
def assistant_engine(database_url):
    from assistant import storage

    yield from migrated_engine(storage.SCHEMA, database_url)


EDITION = {"name": "ICD-10-CM Made-up 2026", "effective_from": "2025-10-01", "source": "made-up.xml"}


def page(system: str, code: str, title: str, billable: bool = True, children=()) -> CodePage:
    return CodePage(
        system=system,
        code=code,
        title=title,
        billable=billable,
        edition=EDITION,
        children=[CodeSummary(system=system, code=c, title=f"made-up child {c}", billable=True) for c in children],
    )


class FakeFacts:
    """The codes service's answers, made up; records the claims it was asked to check."""

    def __init__(self):
        self.pages = {
            ("ICD10CM", "K220"): page("ICD10CM", "K22.0", "Made-up achalasia title"),
            ("ICD10CM", "K22"): page("ICD10CM", "K22", "Made-up header", billable=False, children=["K22.0"]),
            ("HCPCS", "J9035"): page("HCPCS", "J9035", "Made-up drug title"),
        }
        self.known_cpt = {"20610", "99213", "93000"}
        self.claims: list[rules.ClaimInput] = []
        self.edits = {("20610", "99213"): 1}  # column 1, column 2 -> modifier indicator

    def get_codes(self, refs):
        return [self.pages.get((s.value, c)) for s, c in refs]

    def get_code_rules(self, refs, ptp_first=0):
        out = []
        for system, code in refs:
            mue = [rules.Mue(setting="practitioner", max_units=7, adjudication_indicator="3 Made-up", source="mue.csv")]
            out.append(
                rules.CodeRules(
                    system=system,
                    code=code,
                    known=code in self.known_cpt or code == "J9035",
                    mue=mue if code == "J9035" else [],
                )
            )
        return out

    def search(self, query, systems=None, first=5, billable_only=False):
        hits = []
        if "achalasia" in query:
            node = CodeSummary(system=CodeSystem.ICD10CM, code="K22.0", title="Made-up achalasia title", billable=True)
            hits = [SearchHit(cursor="1", score=1.0, highlight="Made-up <mark>achalasia</mark>", node=node)]
        return SearchResult(total_count=len(hits), hits=hits, has_next_page=False, facets=[])

    def check_claim(self, claim):
        self.claims.append(claim)
        findings = []
        codes = [line.code for line in claim.lines]
        for (col1, col2), indicator in self.edits.items():
            if col1 in codes and col2 in codes:
                line2 = claim.lines[codes.index(col2)]
                used = [m for m in line2.modifiers if m in rules.NCCI_ASSOCIATED_MODIFIERS]
                kind = rules.FindingKind.PTP_MODIFIER if used and indicator == 1 else rules.FindingKind.PTP
                findings.append(
                    rules.ClaimFinding(
                        kind=kind,
                        codes=[col1, col2],
                        message=f"made-up {kind.value} (line 2)",
                        modifier_allowed=indicator == 1,
                        source="made-up ptp v1",
                    )
                )
        for line in claim.lines:
            if line.code == "J9035" and line.units > 7:
                findings.append(
                    rules.ClaimFinding(
                        kind=rules.FindingKind.MUE, codes=["J9035"], message="made-up MUE over", source="mue.csv"
                    )
                )
        return rules.ClaimCheck(
            clean=not findings,
            findings=findings,
            date_of_service="2026-01-01",
            setting=claim.setting,
            editions=["made-up ptp v1"],
        )

    def get_modifier(self, code):
        if code == "XS":
            return rules.Modifier(
                code="XS", title="Made-up separate structure", source="made-up hcpcs", ncci_associated=True
            )
        return None


@pytest.fixture
def facts():
    return FakeFacts()


@pytest.fixture(scope="session")
def library(data_mirror):
    from assistant.documents import Library

    return Library.from_mirror(Path(data_mirror))


@pytest.fixture(scope="session")
def ncds(data_mirror):
    from assistant.coverage import LabNcds

    return LabNcds.from_mirror(Path(data_mirror))


@pytest.fixture
def composer(facts, library, ncds):
    from assistant.composition import Composer

    return Composer(facts, library, ncds, "https://codes.example/{system}/{code}")
