"""Answers in words: one composer per intent, from facts (the codes service), passages
(documents) and the lab NCD tables. Every code named is linked to its page and listed in
`codes`; every fact is cited (source, locator, short excerpt). When the data cannot
answer, the answer says so plainly ("I don't know") and where to look instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from medcode_contracts import coding_rules as rules
from medcode_contracts.assistant import Citation, Intent
from medcode_contracts.codes import CodeSummary, CodeSystem

from . import documents as docs
from .coverage import RESOLUTIONS, LabNcds
from .facts import ResolvedCode, resolve
from .understanding import CodeMention, Understanding, expand_abbreviations, find_codes, search_phrase

DONT_KNOW = "I don't know"
SYSTEM_NAMES = {
    CodeSystem.ICD10CM: "ICD-10-CM",
    CodeSystem.ICD10PCS: "ICD-10-PCS",
    CodeSystem.HCPCS: "HCPCS",
    CodeSystem.CPT: "CPT",
    CodeSystem.MODIFIER: "Modifier",
}
_PROCEDURE_WORDS = re.compile(
    r"(otomy|ectomy|plasty|scopy|ostomy|pexy|rrhaphy|graft|repair|injection|biopsy|excision|insertion|removal"
    r"|resection|myotomy|implant|replacement|transplant|drainage|debridement|infusion|ablation|fusion"
    r"|catheter|ekg|ecg|x-ray|mri|ct scan|ultrasound|vaccin|administration|done|performed)",
    re.I,
)


@dataclass
class Composed:
    intent: Intent
    text: str
    citations: list[Citation] = field(default_factory=list)
    codes: list[CodeSummary] = field(default_factory=list)


class Composer:
    def __init__(self, facts, library: docs.Library, ncds: LabNcds, code_url: str):
        self.facts = facts
        self.library = library
        self.ncds = ncds
        self.code_url = code_url

    # ---- helpers ----------------------------------------------------------------------------
    def link(self, system: CodeSystem, code: str) -> str:
        return f"[{code}]({self.code_url.format(system=system.value, code=code)})"

    def _link(self, resolved: ResolvedCode) -> str:
        return self.link(resolved.system, resolved.code)

    @staticmethod
    def _codes(resolved: list[ResolvedCode]) -> list[CodeSummary]:
        seen, out = set(), []
        for r in resolved:
            if (r.system, r.code) not in seen:
                seen.add((r.system, r.code))
                out.append(r.summary())
        return out

    def _not_found(self, missing: list[CodeMention]) -> str:
        names = ", ".join(f"`{m.text}`" for m in missing)
        return (
            f"{DONT_KNOW} {names}: no loaded code set (ICD-10-CM, ICD-10-PCS, HCPCS Level II) or "
            f"NCCI/MUE file has {'this code' if len(missing) == 1 else 'these codes'}. Check the spelling, "
            'or search by words ("code for ...").'
        )

    @staticmethod
    def _edition_citation(r: ResolvedCode, excerpt: str | None = None) -> Citation:
        if r.page is not None:
            return Citation(source=edition_source(r.system, r.page.edition), locator=r.code, excerpt=excerpt or r.title)
        return Citation(source="NCCI PTP / MUE files (CPT code numbers)", locator=r.code, excerpt=excerpt)

    def compose(self, understood: Understanding) -> Composed:
        handler = {
            Intent.CODE_LOOKUP: self.code_lookup,
            Intent.BILLABLE: self.billable,
            Intent.CODE_SEARCH: self.code_search,
            Intent.NCCI_PAIR: self.ncci_pair,
            Intent.MUE: self.mue,
            Intent.MODIFIER: self.modifier,
            Intent.CROSSWALK: self.crosswalk,
            Intent.GUIDELINE: self.guideline,
            Intent.COVERAGE: self.coverage,
            Intent.CASE_TO_CODES: self.case_to_codes,
        }.get(understood.intent, self.unknown)
        return handler(understood)

    # ---- codes -----------------------------------------------------------------------------------
    def code_lookup(self, u: Understanding) -> Composed:
        found, missing = resolve(self.facts, u.codes[:10])
        lines, citations = [], []
        for r in found:
            status = "billable" if r.billable else "not billable (a header: report a more specific code)"
            if r.page is None or (r.system is CodeSystem.CPT and "licen" in r.title.lower()):
                lines.append(
                    f"**{self._link(r)}** is a CPT code number known from the NCCI/MUE files; "
                    f"its descriptor needs an AMA CPT licence, so it is not shown here."
                )
            else:
                lines.append(f"**{self._link(r)}** ({SYSTEM_NAMES[r.system]}): {r.title}. It is {status}.")
                notes = r.page.notes
                for label, values in (
                    ("Excludes1", notes.excludes1),
                    ("Excludes2", notes.excludes2),
                    ("Code first", notes.code_first),
                    ("Use additional code", notes.use_additional_code),
                ):
                    if values:
                        lines.append(f"- {label}: " + "; ".join(values[:4]))
                if not r.billable and r.page.children:
                    lines.append(
                        "- More specific codes: "
                        + ", ".join(f"{self.link(c.system, c.code)} {c.title}" for c in r.page.children[:8])
                    )
            citations.append(self._edition_citation(r))
        if missing:
            lines.append(self._not_found(missing))
        return Composed(Intent.CODE_LOOKUP, "\n".join(lines), citations, self._codes(found))

    def billable(self, u: Understanding) -> Composed:
        found, missing = resolve(self.facts, u.codes[:10])
        lines, citations = [], []
        for r in found:
            if r.page is None:
                lines.append(
                    f"**{self._link(r)}** is a CPT code number from the NCCI/MUE files; whether it "
                    "is reportable depends on the CPT code set (AMA licence), which is not loaded."
                )
            elif r.billable:
                lines.append(
                    f"**Yes.** {self._link(r)} ({edition_name(r.system, r.page.edition)}) is billable: {r.title}."
                )
            else:
                children = ", ".join(self.link(c.system, c.code) for c in r.page.children[:10])
                lines.append(
                    f"**No.** {self._link(r)} ({edition_name(r.system, r.page.edition)}) is a "
                    f"header, not billable: {r.title}."
                    + (f" Report one of its more specific codes: {children}." if children else "")
                )
            citations.append(
                self._edition_citation(r, f"{r.code} {r.title} ({'billable' if r.billable else 'header'})")
            )
        if missing:
            lines.append(self._not_found(missing))
        return Composed(Intent.BILLABLE, "\n".join(lines), citations, self._codes(found))

    def code_search(self, u: Understanding) -> Composed:
        phrase = search_phrase(u.question) if u.question else u.topic
        systems = [u.system_hint] if u.system_hint else None
        result = self.facts.search(phrase, systems=systems, first=5) if phrase else None
        if not result or not result.hits:
            return Composed(
                Intent.CODE_SEARCH,
                f"{DONT_KNOW} a code for “{phrase}”: the loaded code sets have "
                "no title or index term that matches. Try other words (the condition or procedure as the "
                "Alphabetic Index names it), or a code you know to start from.",
            )
        nodes = [h.node for h in result.hits]
        pages = self.facts.get_codes([(n.system, n.code) for n in nodes])
        lines = [f"Codes for “{phrase}” (best match first):"]
        citations = []
        for hit, page in zip(result.hits, pages):
            n = hit.node
            flag = "" if n.billable else " (header, not billable)"
            lines.append(f"- {self.link(n.system, n.code)} {SYSTEM_NAMES[n.system]}: {n.title}{flag}")
            if page is not None:
                evidence = _evidence(hit.highlight, page.lay_terms, phrase)
                citations.append(
                    Citation(source=edition_source(n.system, page.edition), locator=n.code, excerpt=evidence or n.title)
                )
        lines.append("Check the tabular notes of the code you pick before you report it.")
        return Composed(Intent.CODE_SEARCH, "\n".join(lines), citations, nodes)

    # ---- coding rules ----------------------------------------------------------------------------
    def _claim(self, u: Understanding, lines: list[rules.ClaimLine]) -> rules.ClaimInput:
        return rules.ClaimInput(
            date_of_service=u.date_of_service, setting=u.setting or rules.Setting.PRACTITIONER, lines=lines
        )

    def ncci_pair(self, u: Understanding) -> Composed:
        found, missing = resolve(self.facts, [c for c in u.codes if c.is_procedure][:10])
        if len(found) < 2:
            needed = "An NCCI pair needs two procedure codes (CPT or HCPCS)."
            return Composed(
                Intent.NCCI_PAIR, f"{self._not_found(missing)} {needed}" if missing else needed, [], self._codes(found)
            )
        extra = [m for m in u.modifiers if not any(m in r.mention.modifiers for r in found)]
        lines = [rules.ClaimLine(code=r.code, modifiers=list(r.mention.modifiers), units=1) for r in found]
        check = self.facts.check_claim(self._claim(u, lines))
        ptp = [f for f in check.findings if f.kind in (rules.FindingKind.PTP, rules.FindingKind.PTP_MODIFIER)]
        if extra and ptp:
            # "with modifier 59": the modifier goes on the column-2 line of each edit.
            column2 = {f.codes[1] for f in ptp}
            lines = [
                line.model_copy(update={"modifiers": list(dict.fromkeys(line.modifiers + extra))[:4]})
                if line.code in column2
                else line
                for line in lines
            ]
            check = self.facts.check_claim(self._claim(u, lines))
            ptp = [f for f in check.findings if f.kind in (rules.FindingKind.PTP, rules.FindingKind.PTP_MODIFIER)]
        where = f"{check.setting.value.replace('_', ' ')} edits, date of service {check.date_of_service.isoformat()}"
        text, citations = [], []
        if not ptp:
            codes = " and ".join(self._link(r) for r in found)
            text.append(f"**Yes, no NCCI PTP edit applies.** No edit pairs {codes} in the {where}.")
            citations.append(
                Citation(
                    source=", ".join(check.editions) or "NCCI PTP edits",
                    locator=f"PTP {where}",
                    excerpt="no edit for this pair",
                )
            )
        for finding in ptp:
            col1, col2 = finding.codes[0], finding.codes[1]
            message = _without_line_numbers(finding.message)
            if finding.kind is rules.FindingKind.PTP_MODIFIER:
                verdict = "**Yes, with the modifier.**"
            elif finding.modifier_allowed:
                verdict = "**Not without a modifier.**"
            else:
                verdict = "**No.**"
            text.append(f"{verdict} {message} ({where}) Codes: {', '.join(self._link(r) for r in found)}.")
            citations.append(
                Citation(source=finding.source, locator=f"PTP column 1 {col1} / column 2 {col2}", excerpt=message)
            )
        for finding in check.findings:
            if finding.kind not in (rules.FindingKind.PTP, rules.FindingKind.PTP_MODIFIER):
                text.append(f"- {_without_line_numbers(finding.message)}")
                citations.append(
                    Citation(
                        source=finding.source,
                        locator=f"{finding.kind.value} {' '.join(finding.codes)}",
                        excerpt=_without_line_numbers(finding.message),
                    )
                )
        not_ncci = [m for m in extra if m not in rules.NCCI_ASSOCIATED_MODIFIERS]
        if not_ncci:
            text.append(
                f"Modifier {', '.join(not_ncci)} is not an NCCI PTP-associated modifier: it does not bypass a PTP edit."
            )
        if missing:
            text.append(self._not_found(missing))
        return Composed(Intent.NCCI_PAIR, "\n".join(text), citations, self._codes(found))

    def mue(self, u: Understanding) -> Composed:
        found, missing = resolve(self.facts, [c for c in u.codes if c.is_procedure][:5])
        if not found:
            return Composed(
                Intent.MUE,
                self._not_found(missing) if missing else "Which code? An MUE question needs a CPT or HCPCS code.",
            )
        code_rules = self.facts.get_code_rules([(r.system, r.mention.key) for r in found])
        text, citations = [], []
        for r, cr in zip(found, code_rules):
            rows = [m for m in cr.mue if u.setting is None or m.setting == u.setting]
            if not rows:
                scope = f" for {u.setting.value.replace('_', ' ')}" if u.setting else ""
                text.append(
                    f"{DONT_KNOW} an MUE for {self._link(r)}{scope}: the loaded MUE files list none "
                    "(CMS does not publish every MUE). Check the CMS MUE page for unpublished values."
                )
                continue
            for m in rows:
                why = f" Rationale: {m.rationale}." if m.rationale else ""
                text.append(
                    f"**{self._link(r)}: MUE {m.max_units} unit{'s' if m.max_units != 1 else ''}** "
                    f"({m.setting.value.replace('_', ' ')}), MAI {m.adjudication_indicator}.{why}"
                )
                citations.append(
                    Citation(
                        source=m.source,
                        locator=f"MUE {r.code} ({m.setting.value})",
                        excerpt=f"{r.code} {m.max_units} {m.adjudication_indicator}",
                    )
                )
            if u.units is not None:
                check = self.facts.check_claim(self._claim(u, [rules.ClaimLine(code=r.code, units=u.units)]))
                over = [f for f in check.findings if f.kind is rules.FindingKind.MUE]
                if over:
                    text.append("**Over the MUE.** " + _without_line_numbers(over[0].message))
                    citations.append(
                        Citation(
                            source=over[0].source,
                            locator=f"MUE {r.code}",
                            excerpt=_without_line_numbers(over[0].message),
                        )
                    )
                else:
                    setting = check.setting.value.replace("_", " ")
                    text.append(
                        f"{u.units} units of {self._link(r)} are within the {setting} MUE "
                        f"(claim check, date of service {check.date_of_service.isoformat()})."
                    )
        if missing:
            text.append(self._not_found(missing))
        return Composed(Intent.MUE, "\n".join(text), citations, self._codes(found))

    def modifier(self, u: Understanding) -> Composed:
        text, citations = [], []
        for code in u.modifiers[:4]:
            found = self.facts.get_modifier(code)
            associated = code in rules.NCCI_ASSOCIATED_MODIFIERS
            if found is not None and found.description == rules.CPT_LICENCE_NOTE:
                text.append(
                    f"**Modifier {found.code}** is a CPT modifier: its descriptor needs an AMA CPT "
                    "licence, which is not loaded."
                )
                citations.append(Citation(source=found.source, locator=f"modifier {found.code}"))
            elif found is not None:
                description = found.description or found.title
                text.append(
                    f"**Modifier {found.code}** ({'CPT' if found.system is CodeSystem.CPT else 'HCPCS Level II'}): "
                    f"{description}."
                )
                citations.append(Citation(source=found.source, locator=f"modifier {found.code}", excerpt=found.title))
            else:
                text.append(
                    f"**Modifier {code}** is not in the loaded HCPCS Level II modifier list "
                    "(CPT modifiers' descriptors need an AMA CPT licence)."
                )
            if associated:
                text.append(
                    f"{code} is an NCCI PTP-associated modifier: on the column-2 code of an edit with "
                    "modifier indicator 1 it lets both codes be paid when the documentation supports it."
                )
        passages = self.library.search(
            f"modifier {' '.join(u.modifiers)} {u.topic}", documents=(docs.NCCI_MANUAL,), limit=2
        )
        for passage in passages:
            excerpt = docs.best_excerpt(passage, " ".join(u.modifiers) + " modifier " + u.topic)
            text.append(f"> {excerpt}\n> — {passage.document}, {passage.section}")
            citations.append(Citation(source=passage.source, locator=passage.section, excerpt=excerpt))
        if not u.modifiers:
            text.append(f"{DONT_KNOW} which modifier you mean: name it (e.g. “modifier 59”, “XS”).")
        return Composed(Intent.MODIFIER, "\n".join(text), citations)

    def crosswalk(self, u: Understanding) -> Composed:
        found, missing = resolve(
            self.facts, [c for c in u.codes if CodeSystem.ICD10CM in c.systems or CodeSystem.ICD10PCS in c.systems][:5]
        )
        text, citations, codes = [], [], list(found)
        for r, cr in zip(found, self.facts.get_code_rules([(r.system, r.mention.key) for r in found])):
            if not cr.crosswalks:
                text.append(
                    f"{DONT_KNOW} a crosswalk for {self._link(r)}: the GEM files (final FY2018 release) "
                    "have no entry for it (codes added after FY2018 are not in the GEMs)."
                )
                continue
            text.append(f"**{self._link(r)}** {r.title}: GEM crosswalk")
            for cw in cr.crosswalks[:10]:
                direction = "to ICD-9-CM" if cw.kind == "GEM_I10_TO_I9" else "from ICD-9-CM"
                flags = [
                    name
                    for name, on in (
                        ("approximate", cw.approximate),
                        ("no map", cw.no_map),
                        ("combination", cw.combination),
                    )
                    if on
                ]
                target = cw.target.code + (f" {cw.target.title}" if cw.target.title else "")
                text.append(f"- {direction}: {target}" + (f" ({', '.join(flags)})" if flags else ""))
                citations.append(
                    Citation(
                        source=cw.source,
                        locator=f"{cw.kind} {r.code} → {cw.target.code}",
                        excerpt=", ".join(flags) or "exact",
                    )
                )
        if missing:
            text.append(self._not_found(missing))
        if not found and not missing:
            text.append(
                f"{DONT_KNOW} the crosswalk from an ICD-9-CM code: the assistant looks GEM entries up by "
                "ICD-10 code (each ICD-10-CM code's page lists its forward and backward GEM entries). "
                "Ask “crosswalk for <ICD-10-CM code>”, or look the ICD-9-CM code up in the CMS GEM files."
            )
        return Composed(Intent.CROSSWALK, "\n".join(text), citations, self._codes(codes))

    # ---- documents -------------------------------------------------------------------------------
    def guideline(self, u: Understanding) -> Composed:
        query = expand_abbreviations(u.topic)
        documents: tuple[str, ...] = (docs.ICD10CM_GUIDELINES, docs.NCCI_MANUAL)
        if re.search(r"\bncci\b|policy manual|modifier|bundl|ptp|mue", query, re.I):
            documents = (docs.NCCI_MANUAL,)
        elif re.search(r"icd|diagnos|sequenc|guideline", query, re.I):
            documents = (docs.ICD10CM_GUIDELINES,)
        passages = self.library.search(query, documents=documents, limit=3)
        if not passages:
            return Composed(
                Intent.GUIDELINE,
                f"{DONT_KNOW}: no section of the loaded official documents "
                f"({', '.join(sorted(self.library.documents())) or 'none loaded'}) matches. Try the "
                "condition or topic in other words, or look in the AHA Coding Clinic.",
            )
        text, citations, mentioned = [], [], []
        for passage in passages:
            excerpt = docs.best_excerpt(passage, query)
            title = passage.heading.split(" > ")[-1]
            text.append(f"**{passage.document} ({passage.edition}), {passage.section}** — {title}:\n> {excerpt}")
            citations.append(Citation(source=passage.source, locator=passage.section, excerpt=excerpt))
            mentioned += find_codes(excerpt)
        found, _ = resolve(self.facts, _unique(mentioned)[:10]) if mentioned else ([], [])
        if found:
            text.append("Codes named above: " + ", ".join(f"{self._link(r)} {r.title}" for r in found))
        return Composed(Intent.GUIDELINE, "\n\n".join(text), citations, self._codes(found))

    def coverage(self, u: Understanding) -> Composed:
        found, missing = resolve(self.facts, u.codes[:10])
        procedures = [r for r in found if r.system in (CodeSystem.CPT, CodeSystem.HCPCS)]
        diagnoses = [r for r in found if r.system is CodeSystem.ICD10CM]
        text, citations = [], []
        source = f"CMS lab NCD edits {self.ncds.edition} ({self.ncds.procedure_file}, {self.ncds.diagnosis_file})"
        for p in procedures:
            ncds = self.ncds.by_procedure.get(p.mention.key, [])
            for ncd in ncds:
                title = self.ncds.ncd_titles.get(ncd, "")
                if not diagnoses:
                    text.append(
                        f"{self._link(p)} falls under lab NCD {ncd} ({title}). Name the diagnosis to "
                        "check whether it supports medical necessity."
                    )
                    citations.append(Citation(source=source, locator=f"NCD {ncd}, {p.code}", excerpt=title))
                for d in diagnoses:
                    resolution = self.ncds.resolution(ncd, d.mention.key)
                    if resolution is None:
                        continue
                    code, listed = resolution
                    how = "listed" if listed else "not listed, so the NCD's rule for all other codes applies"
                    text.append(
                        f"**{self._link(p)} with {self._link(d)} under NCD {ncd} ({title}): "
                        f"{RESOLUTIONS.get(code, code)}** ({how})."
                    )
                    citations.append(
                        Citation(
                            source=source, locator=f"NCD {ncd}, {p.code} / {d.code}", excerpt=f"resolution code {code}"
                        )
                    )
        if not text:
            passages = self.library.search(
                u.topic + " " + " ".join(r.title for r in found[:2]), documents=(docs.MCD_INDEX,), limit=3
            )
            subject = ", ".join(self._link(r) for r in found) or "this"
            text.append(
                f"{DONT_KNOW} whether {subject} is covered: the loaded coverage files (the lab NCD edits) "
                "do not decide it. Coverage is set by NCDs and by your MAC's LCDs and billing articles."
            )
            for passage in passages:
                link = f"[{passage.section}]({passage.url})" if passage.url else passage.section
                text.append(f"- Possibly relevant: {link} {passage.heading}")
                citations.append(Citation(source=passage.source, locator=passage.section, excerpt=passage.heading))
        if missing:
            text.append(self._not_found(missing))
        return Composed(Intent.COVERAGE, "\n".join(text), citations, self._codes(found))

    # ---- cases -----------------------------------------------------------------------------------
    def case_to_codes(self, u: Understanding) -> Composed:
        phrases = case_phrases(u.question or u.topic)
        lines = ["**Suggestions for a coder to verify** (not a final code assignment):"]
        citations: list[Citation] = []
        proposed: list[CodeSummary] = []
        procedures: list[CodeSummary] = []
        for phrase in phrases:
            is_procedure = bool(_PROCEDURE_WORDS.search(phrase))
            systems = [CodeSystem.ICD10PCS, CodeSystem.HCPCS] if is_procedure else [CodeSystem.ICD10CM]
            query = re.sub(r"\b(done|performed)\b", "", phrase).strip()
            if not query:
                continue
            result = self.facts.search(query, systems=systems, first=3, billable_only=not is_procedure)
            if not result.hits:
                lines.append(f"- “{phrase}”: no matching code found")
                continue
            pages = self.facts.get_codes([(h.node.system, h.node.code) for h in result.hits])
            for rank, (hit, page) in enumerate(zip(result.hits, pages), start=1):
                n = hit.node
                evidence = _evidence(hit.highlight, page.lay_terms if page else [], query) or n.title
                lines.append(
                    f"- “{phrase}” → {self.link(n.system, n.code)} {SYSTEM_NAMES[n.system]}: {n.title} "
                    f"(evidence: {evidence})"
                )
                if page is not None:
                    citations.append(
                        Citation(source=edition_source(n.system, page.edition), locator=n.code, excerpt=evidence)
                    )
                proposed.append(n)
                if n.system in (CodeSystem.HCPCS, CodeSystem.CPT):
                    procedures.append(n)
                if rank == 3:
                    break
        if len(procedures) >= 1:
            check = self.facts.check_claim(
                rules.ClaimInput(
                    date_of_service=u.date_of_service,
                    setting=u.setting or rules.Setting.PRACTITIONER,
                    lines=[rules.ClaimLine(code=p.code) for p in _unique_summaries(procedures)[:10]],
                )
            )
            findings = [f for f in check.findings if f.kind is not rules.FindingKind.PTP_MODIFIER]
            lines.append(
                "Claim check of the proposed procedure codes: "
                + (
                    "no NCCI or MUE finding."
                    if not findings
                    else " ".join(_without_line_numbers(f.message) for f in findings)
                )
            )
            for f in findings:
                citations.append(
                    Citation(
                        source=f.source,
                        locator=f"{f.kind.value} {' '.join(f.codes)}",
                        excerpt=_without_line_numbers(f.message),
                    )
                )
        elif any(_PROCEDURE_WORDS.search(p) for p in phrases):
            lines.append(
                "ICD-10-PCS codes (inpatient procedures) are not subject to NCCI edits; for the "
                "professional claim use the CPT code of the procedure (CPT needs an AMA licence)."
            )
        if len(lines) == 1:
            return Composed(
                Intent.CASE_TO_CODES,
                f"{DONT_KNOW} which codes fit this case: no diagnosis or "
                "procedure in it matches a code title or index term. Describe it in index terms.",
            )
        return Composed(Intent.CASE_TO_CODES, "\n".join(lines), citations, _unique_summaries(proposed))

    def unknown(self, u: Understanding) -> Composed:
        return Composed(
            Intent.UNKNOWN,
            (
                f"{DONT_KNOW}: the loaded code sets, coding rules and official documents do not answer this. "
                "I can answer questions like:\n"
                "- “Is E11.9 billable?”, “What is K22.0?”, “ICD-10 code for achalasia?”\n"
                "- “Can 93000 and 93005 be billed together?”, “MUE for J9035?”, “What does modifier 59 mean?”\n"
                "- “Guidelines for sequencing sepsis?”, “Crosswalk I10 to ICD-9”, “Is 82607 covered for D51.0?”\n"
                "For payment rates, payer policies or documentation advice, ask your MAC or payer, or see the AHA "
                "Coding Clinic."
            ),
        )


def edition_name(system: CodeSystem, edition) -> str:
    name = SYSTEM_NAMES[system]
    return edition.name if edition.name.startswith(name) else f"{name} {edition.name}"


def edition_source(system: CodeSystem, edition) -> str:
    return f"{edition_name(system, edition)} ({edition.source})"


def case_phrases(text: str) -> list[str]:
    """The diagnoses and procedures of a short case, without age and sex."""
    text = re.sub(r"\b\d{1,3}\s*(yo|y/o|y\.o\.|year[- ]old|yr old|yrs? old|[mf])\b", " ", text, flags=re.I)
    text = re.sub(
        r"\b(male|female|man|woman|patient|pt|presents?|presenting|presented|with|w/|s/p|status post|"
        r"history of|h/o|underwent|had|has|was|is|the|a|an)\b",
        ",",
        text,
        flags=re.I,
    )
    parts = re.split(r"[,;.]|\band\b|\bthen\b", text)
    phrases = [" ".join(p.split()) for p in parts]
    return [p for p in phrases if len(p) > 2 and re.search(r"[a-z]{3}", p, re.I)][:6]


def _evidence(highlight: str | None, lay_terms: list[str], phrase: str) -> str:
    """Why a code matched: the index term with every word of the phrase, else the title
    with the matched words."""
    words = [w[:5] for w in re.findall(r"[a-z]{3,}", phrase.lower())]
    matching = [t for t in lay_terms if words and all(w in t.lower() for w in words)]
    if matching:
        return f"index term “{min(matching, key=len)}”"
    if highlight:
        return "tabular title “" + re.sub(r"</?mark>", "", highlight) + "”"
    return ""


def _without_line_numbers(message: str) -> str:
    return re.sub(r"\s*\(lines? \d+\)", "", message)


def _unique(mentions: list[CodeMention]) -> list[CodeMention]:
    return list({m.key: m for m in mentions}.values())


def _unique_summaries(items: list[CodeSummary]) -> list[CodeSummary]:
    return list({(s.system, s.code): s for s in items}.values())
