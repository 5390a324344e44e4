"""CPT as a code set, built from what the coding-rule tables know.

CPT descriptors are AMA text: they come only from a licensed file the user supplies
(CPT_FILE, loaded by codes.rules.rule_files as the rule edition of kind "CPT"). The CMS
NCCI PTP and MUE tables name CPT codes without descriptors, so without a licence every CPT
code they name still becomes a code (page and search hit by its number) whose title is a
placeholder saying the descriptor needs a licence.

The CPT code-set edition is derived, not read from one release file: its fingerprint is
that of the rule editions it was built from, so `codes.cli load` rebuilds it exactly when
one of them changes. No nameko here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date

from medcode_contracts.codes import CodeSystem
from medcode_contracts.coding_rules import CPT_LICENCE_NOTE

from ..domain import CodeRecord, EditionMeta
from ..rules.engine import edition_effective_from
from ..rules.storage import EditionRow, RulesStore

SYSTEM = CodeSystem.CPT
# Rule editions whose rule_codes rows name CPT codes.
SOURCE_KINDS = ("CPT", "PTP", "MUE")
AMA_URL = "https://www.ama-assn.org/practice-management/cpt/cpt-data-files"


def placeholder_title(code: str) -> str:
    """GraphQL's CodePage.title is non-null: this stands in for the AMA descriptor."""
    return f"CPT {code} (descriptor requires an AMA CPT licence)"


def _effective_from(sources: list[EditionRow]) -> date:
    """The newest effective date the source editions' names state; today when none does."""
    found = [d for d in (edition_effective_from(e.name) for e in sources) if d is not None]
    return max(found) if found else date.today()


def read_edition(rules: RulesStore) -> tuple[EditionMeta, Iterator[CodeRecord]] | None:
    """The CPT code set the current rule editions define, or None when none names a CPT
    code (no PTP, MUE or licensed CPT file loaded)."""
    sources = [e for e in rules.current_editions() if e.kind in SOURCE_KINDS]
    if not sources:
        return None
    licensed = next((e for e in sources if e.kind == "CPT"), None)
    digest = hashlib.sha256()
    for edition in sorted(sources, key=lambda e: (e.kind, e.setting or "")):
        digest.update(f"{edition.kind}/{edition.setting}/{edition.fingerprint};".encode())
    if licensed is not None:
        name = f"CPT codes: {licensed.name} + codes named in NCCI PTP/MUE files"
        source, url = licensed.source, AMA_URL
    else:
        name = "CPT codes named in NCCI PTP/MUE files (no descriptors: AMA CPT licence needed)"
        source, url = " + ".join(sorted({e.source for e in sources})), ""
    meta = EditionMeta(
        system=SYSTEM,
        name=name[:200],
        effective_from=_effective_from(sources),
        source=source[:500],
        source_url=url,
        fingerprint=digest.hexdigest(),
    )
    return meta, _records(rules, sources)


def _records(rules: RulesStore, sources: list[EditionRow]) -> Iterator[CodeRecord]:
    # code -> (descriptor or None, still in force somewhere); ~13 k CPT codes: fits in memory.
    codes: dict[str, tuple[str | None, bool]] = {}
    for row in rules.codes_status([e.id for e in sources], None):
        if row.system != "CPT":
            continue
        title, active = codes.get(row.code, (None, False))
        codes[row.code] = (title or row.title, active or row.last_day is None)
    for code, (title, active) in sorted(codes.items()):
        if title:
            yield CodeRecord(system=SYSTEM, code=code, title=title, billable=active)
        else:
            yield CodeRecord(
                system=SYSTEM,
                code=code,
                title=placeholder_title(code),
                billable=active,
                extra={"descriptor_note": CPT_LICENCE_NOTE},
            )
