"""The assistant's evaluation set: questions as coders write them, each with the intent it
must be read as and how to tell the answer is right, judged against the platform's own
data (the codes service's code pages, checkClaim, MUEs and GEMs, and the mirror's files),
never against text written down here.

`grade(oracle, question, answer)` returns None when right, else why not. The end-to-end
tests print the share answered correctly; `make bench` times the answers. Nothing here
runs inside the service.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DONT_KNOW = "I don't know"


@dataclass
class Q:
    text: str
    intent: str
    check: tuple                      # (kind, *arguments), see grade()
    follow_up: bool = False           # asked in the conversation of the question before


QUESTIONS: list[Q] = [
    # ---- CODE_LOOKUP ----
    Q("What is K22.0?", "CODE_LOOKUP", ("title", "ICD10CM", "K22.0")),
    Q("k220", "CODE_LOOKUP", ("title", "ICD10CM", "K22.0")),
    Q("describe I10", "CODE_LOOKUP", ("title", "ICD10CM", "I10")),
    Q("what's J9035", "CODE_LOOKUP", ("title", "HCPCS", "J9035")),
    Q("0DTJ4ZZ?", "CODE_LOOKUP", ("title", "ICD10PCS", "0DTJ4ZZ")),
    Q("What does code E78.5 mean", "CODE_LOOKUP", ("title", "ICD10CM", "E78.5")),
    Q("look up s72.001a", "CODE_LOOKUP", ("title", "ICD10CM", "S72.001A")),
    Q("title of G0008?", "CODE_LOOKUP", ("title", "HCPCS", "G0008")),
    Q("What is K22.99?", "CODE_LOOKUP", ("dont_know",)),
    Q("What is E11.9?", "CODE_LOOKUP", ("title", "ICD10CM", "E11.9")),
    Q("is it billable?", "BILLABLE", ("billable", "ICD10CM", "E11.9"), follow_up=True),
    # ---- BILLABLE ----
    Q("Is E11.9 billable?", "BILLABLE", ("billable", "ICD10CM", "E11.9")),
    Q("is K22 billable", "BILLABLE", ("billable", "ICD10CM", "K22")),
    Q("Can I bill I10?", "BILLABLE", ("billable", "ICD10CM", "I10")),
    Q("is E11 a valid code", "BILLABLE", ("billable", "ICD10CM", "E11")),
    Q("Is S72.001 billable or does it need a 7th character?", "BILLABLE", ("billable", "ICD10CM", "S72.001")),
    Q("billable? Z79.4", "BILLABLE", ("billable", "ICD10CM", "Z79.4")),
    Q("Is R65.2 billable?", "BILLABLE", ("billable", "ICD10CM", "R65.2")),
    Q("is J45.909 valid for billing", "BILLABLE", ("billable", "ICD10CM", "J45.909")),
    Q("Is K22.99 billable?", "BILLABLE", ("dont_know",)),
    # ---- CODE_SEARCH ----
    Q("ICD-10 code for achalasia?", "CODE_SEARCH", ("search", "K22.0")),
    Q("what is the icd-10 code for essential hypertension", "CODE_SEARCH", ("search", "I10")),
    Q("dx code for type 2 diabetes without complications", "CODE_SEARCH", ("search", "E11.9")),
    Q("code for urinary tract infection?", "CODE_SEARCH", ("search", "N39.0")),
    Q("icd10 code for hyperlipidemia", "CODE_SEARCH", ("search", "E78.5")),
    Q("diagnosis code for copd with acute exacerbation", "CODE_SEARCH", ("search", "J44.1")),
    Q("what's the code for chest pain", "CODE_SEARCH", ("search", "R07.9")),
    Q("ICD-10 code for acute appendicitis", "CODE_SEARCH", ("search_prefix", "K35")),
    Q("icd 10 for afib", "CODE_SEARCH", ("search_prefix", "I48")),
    Q("z code for personal history of colon polyps", "CODE_SEARCH", ("search_prefix", "Z86.010")),
    Q("whats the dx code for gerd", "CODE_SEARCH", ("search", "K21.9")),
    # ---- NCCI_PAIR ----
    Q("Can 11042 and 97597 be billed together?", "NCCI_PAIR", ("ncci", ["11042", "97597"], [])),
    Q("93000 and 93005 same day?", "NCCI_PAIR", ("ncci", ["93000", "93005"], [])),
    Q("is 36591 bundled with 99213", "NCCI_PAIR", ("ncci", ["36591", "99213"], [])),
    Q("NCCI edit between 20610 and 96372?", "NCCI_PAIR", ("ncci", ["20610", "96372"], [])),
    Q("can I bill 90471 with G0008", "NCCI_PAIR", ("ncci", ["90471", "G0008"], [])),
    Q("99214 and 99213 on the same date of service", "NCCI_PAIR", ("ncci", ["99214", "99213"], [])),
    Q("11042 with 93000-59, ok?", "NCCI_PAIR", ("ncci", ["11042", "93000"], ["59"])),
    Q("Can 43497 and 43280 be billed together?", "NCCI_PAIR", ("ncci", ["43497", "43280"], [])),
    Q("36415 and 36591 together?", "NCCI_PAIR", ("ncci", ["36415", "36591"], [])),
    Q("Does NCCI allow 93000 w/ 93005?", "NCCI_PAIR", ("ncci", ["93000", "93005"], [])),
    Q("Can 20610 and 99213 be billed together?", "NCCI_PAIR", ("ncci", ["20610", "99213"], [])),
    Q("and with modifier 25?", "NCCI_PAIR", ("ncci", ["20610", "99213"], ["25"]), follow_up=True),
    Q("what about 99214?", "NCCI_PAIR", ("ncci", ["20610", "99214"], []), follow_up=True),
    Q("Can I report 97597 and 96372 together in the outpatient hospital?", "NCCI_PAIR",
      ("ncci", ["97597", "96372"], [], "outpatient_hospital")),
    # ---- MUE ----
    Q("MUE for J9035?", "MUE", ("mue", "J9035")),
    Q("how many units of 96372 can I bill", "MUE", ("mue", "96372")),
    Q("max units for 36415?", "MUE", ("mue", "36415")),
    Q("500 units of J9035 on 2026-05-01", "MUE", ("mue_units", "J9035", 500)),
    Q("MUE for 93000 outpatient hospital", "MUE", ("mue", "93000")),
    Q("medically unlikely edit for 11042", "MUE", ("mue", "11042")),
    Q("what's the MUE on 20610", "MUE", ("mue", "20610")),
    Q("mue j9035 opps", "MUE", ("mue", "J9035", "outpatient_hospital")),
    Q("units limit for G0008", "MUE", ("mue", "G0008")),
    Q("what about 3 units?", "MUE", ("mue_units", "G0008", 3), follow_up=True),
    # ---- MODIFIER ----
    Q("What does modifier 59 mean?", "MODIFIER", ("modifier", "59")),
    Q("when to use XS", "MODIFIER", ("modifier", "XS")),
    Q("modifier 25?", "MODIFIER", ("modifier", "25")),
    Q("what is modifier LT", "MODIFIER", ("modifier", "LT")),
    Q("explain modifier XU", "MODIFIER", ("modifier", "XU")),
    Q("modifier RT meaning", "MODIFIER", ("modifier", "RT")),
    Q("What is the GA modifier?", "MODIFIER", ("modifier", "GA")),
    # ---- CROSSWALK ----
    Q("crosswalk I10 to ICD-9", "CROSSWALK", ("crosswalk", "ICD10CM", "I10")),
    Q("GEM for K22.0", "CROSSWALK", ("crosswalk", "ICD10CM", "K22.0")),
    Q("ICD-9 equivalent of E11.9?", "CROSSWALK", ("crosswalk", "ICD10CM", "E11.9")),
    Q("map J45.909 to icd-9", "CROSSWALK", ("crosswalk", "ICD10CM", "J45.909")),
    Q("convert N39.0 to icd9", "CROSSWALK", ("crosswalk", "ICD10CM", "N39.0")),
    Q("crosswalk for R07.9", "CROSSWALK", ("crosswalk", "ICD10CM", "R07.9")),
    Q("what's the crosswalk for 250.00", "CROSSWALK", ("dont_know",)),
    # ---- GUIDELINE ----
    Q("Guidelines for sequencing sepsis?", "GUIDELINE", ("section", "Section I.C.1.d")),
    Q("how do I code an uncertain diagnosis in the outpatient setting", "GUIDELINE", ("section", "Section IV.H")),
    Q("guideline for two or more diagnoses that equally meet the definition of principal diagnosis", "GUIDELINE",
      ("section", "Section II.C")),
    Q("guideline for hypertension with heart disease", "GUIDELINE", ("section", "Section I.C.9.a")),
    Q("what do the guidelines say about excludes1 notes", "GUIDELINE", ("section", "Section I.A.12")),
    Q("NCCI policy manual on add-on codes", "GUIDELINE", ("section", "Chapter I, Section R")),
    Q("guidelines for coding sequela (late effects)", "GUIDELINE", ("section", "Section I.B.10")),
    Q("official guidelines for COVID-19 coding", "GUIDELINE", ("section", "Section I.C.1.g")),
    Q("Sequencing of HTN with CKD", "GUIDELINE", ("section", "Section I.C.9.a.2")),
    # ---- COVERAGE ----
    Q("Is 87086 covered for N39.0?", "COVERAGE", ("ncd", "87086", "N39.0")),
    Q("is 87086 covered for z00.00", "COVERAGE", ("ncd", "87086", "Z00.00")),
    Q("Medicare coverage of 84443 for E03.9?", "COVERAGE", ("ncd", "84443", "E03.9")),
    Q("does the lab NCD cover 80061 with E78.5", "COVERAGE", ("ncd", "80061", "E78.5")),
    Q("Does Medicare cover vitamin D testing?", "COVERAGE", ("dont_know",)),
    Q("is 93000 covered for R07.9", "COVERAGE", ("dont_know",)),
    Q("which NCD covers 85025?", "COVERAGE", ("ncd", "85025", None)),
    # ---- CASE_TO_CODES ----
    Q("62 yo with achalasia, peroral endoscopic myotomy done", "CASE_TO_CODES", ("case", ["K22.0"])),
    Q("45 yo female with type 2 diabetes and essential hypertension", "CASE_TO_CODES", ("case", ["I10"])),
    Q("pt presents with urinary tract infection", "CASE_TO_CODES", ("case", ["N39.0"])),
    Q("70 yo m with hyperlipidemia and chest pain", "CASE_TO_CODES", ("case", ["E78.5"])),
    Q("patient has achalasia, s/p esophagectomy", "CASE_TO_CODES", ("case", ["K22.0"])),
    Q("58 y/o with essential hypertension, EKG performed", "CASE_TO_CODES", ("case", ["I10"])),
    # ---- UNKNOWN ----
    Q("hello", "UNKNOWN", ("dont_know",)),
    Q("what is the weather today", "UNKNOWN", ("dont_know",)),
    Q("how much does a medical coder earn?", "UNKNOWN", ("dont_know",)),
    Q("tell me a joke", "UNKNOWN", ("dont_know",)),
    Q("best certification for a new coder?", "UNKNOWN", ("dont_know",)),
    Q("thanks!", "UNKNOWN", ("dont_know",)),
]


def key(code: str) -> str:
    return code.replace(".", "").upper()


@dataclass
class Oracle:
    """The platform's data, asked directly (codes RPCs) or read from the mirror."""

    rpc: Any  # RpcClient-like: `await rpc.call(service, method, request=...)`
    mirror: Path
    _ncd: dict = field(default_factory=dict)

    async def page(self, system: str, code: str):
        [found] = await self.rpc.call("codes", "get_codes", request={"refs": [{"system": system, "code": code}]})
        return found

    async def rules(self, system: str, code: str):
        [found] = await self.rpc.call("codes", "get_code_rules", request={"refs": [{"system": system, "code": code}],
                                                                            "ptp_first": 0})
        return found

    async def check_claim(self, lines: list[dict], setting: str = "practitioner", dos: str | None = None):
        return await self.rpc.call("codes", "check_claim", request={"lines": lines, "setting": setting,
                                                                  "date_of_service": dos})

    async def exists(self, system: str, code: str) -> bool:
        if await self.page(system, code) is not None:
            return True
        return system in ("CPT", "HCPCS") and (await self.rules(system, code))["known"]

    def ncd(self) -> tuple[dict, dict]:
        if not self._ncd:
            folder = self.mirror / "coverage"
            procedures: dict[str, list[str]] = {}
            resolutions: dict[tuple[str, str], str] = {}
            with open(next(folder.glob("lab_ncd_*_hcpcs_codes.csv")), newline="") as handle:
                for row in csv.DictReader(handle):
                    if not row["hcpcs_term_date"]:
                        procedures.setdefault(row["hcpcs_code"], []).append(row["ncd_number"])
            with open(next(folder.glob("lab_ncd_*_icd10_codes.csv")), newline="") as handle:
                for row in csv.DictReader(handle):
                    if not row["icd10_term_date"]:
                        resolutions[(row["ncd_number"], row["icd10cm_code"])] = row["resolution_code"].lstrip("*")
            self._ncd.update(procedures=procedures, resolutions=resolutions)
        return self._ncd["procedures"], self._ncd["resolutions"]


def _verdict(check: dict) -> str:
    ptp = [f for f in check["findings"] if f["kind"] in ("PTP", "PTP_MODIFIER")]
    if not ptp:
        return "**Yes, no NCCI PTP edit applies.**"
    first = ptp[0]
    if first["kind"] == "PTP_MODIFIER":
        return "**Yes, with the modifier.**"
    return "**Not without a modifier.**" if first["modifier_allowed"] else "**No.**"


async def grade(oracle: Oracle, q: Q, answer: dict) -> str | None:
    """None when the answer is right; else what is wrong."""
    if answer["intent"] != q.intent:
        return f"intent {answer['intent']}, expected {q.intent}"
    # Never a made-up code: every code the answer names is in a loaded code set or rule file.
    for code in answer["codes"]:
        if not await oracle.exists(code["system"], code["code"]):
            return f"names {code['system']} {code['code']}, which no loaded file has"
    text, codes = answer["text"], {c["code"] for c in answer["codes"]}
    kind, *args = q.check
    if kind == "dont_know":
        return None if DONT_KNOW in text else "no honest 'I don't know'"
    if kind == "title":
        system, code = args
        page = await oracle.page(system, code)
        ok = page is not None and page["code"] in codes and page["title"] in text
        return None if ok else f"title of {code} missing"
    if kind == "billable":
        system, code = args
        page = await oracle.page(system, code)
        expected = "**Yes.**" if page["billable"] else "**No.**"
        return None if text.startswith(expected) and page["code"] in codes else f"expected {expected}"
    if kind in ("search", "search_prefix"):
        [code] = args
        hit = code in codes if kind == "search" else any(c.startswith(code) for c in codes)
        return None if hit else f"{code} not among {sorted(codes)}"
    if kind == "ncci":
        pair, modifiers, *settings = args
        setting = settings[0] if settings else "practitioner"
        check = await oracle.check_claim([{"code": c} for c in pair], setting)
        ptp = [f for f in check["findings"] if f["kind"] == "PTP"]
        if modifiers and ptp:
            column2 = {f["codes"][1] for f in ptp}
            check = await oracle.check_claim([{"code": c, "modifiers": modifiers if c in column2 else []}
                                              for c in pair], setting)
        verdict = _verdict(check)
        if verdict not in text:
            return f"verdict {verdict!r} missing"
        sources = {c["source"] for c in answer["citations"]}
        for finding in check["findings"]:
            if finding["kind"] in ("PTP", "PTP_MODIFIER") and finding["source"] not in sources:
                return f"source {finding['source']} not cited"
        return None
    if kind in ("mue", "mue_units"):
        code = args[0]
        mue_setting = args[1] if kind == "mue" and len(args) > 1 else None
        system = "HCPCS" if code[0].isalpha() else "CPT"
        rules = await oracle.rules(system, code)
        for mue in rules["mue"]:
            if mue_setting and mue["setting"] != mue_setting:
                continue
            if f"MUE {mue['max_units']} unit" not in text:
                return f"MUE {mue['max_units']} ({mue['setting']}) missing"
        if not rules["mue"] and DONT_KNOW not in text:
            return "no MUE listed, but no 'I don't know'"
        if kind == "mue_units":
            check = await oracle.check_claim([{"code": code, "units": args[1]}])
            over = any(f["kind"] == "MUE" for f in check["findings"])
            if over != ("Over the MUE" in text):
                return f"claim check says over={over}"
        return None
    if kind == "modifier":
        [modifier] = args
        locators = {c["locator"] for c in answer["citations"]}
        return None if f"Modifier {modifier}" in text and f"modifier {modifier}" in locators else "modifier not cited"
    if kind == "crosswalk":
        system, code = args
        rules = await oracle.rules(system, code)
        targets = {cw["target"]["code"] for cw in rules["crosswalks"]}
        if not targets:
            return None if DONT_KNOW in text else "no GEM entry, but no 'I don't know'"
        missing = [t for t in list(targets)[:10] if t not in text]
        return None if not missing else f"GEM targets {missing} missing"
    if kind == "section":
        [prefix] = args
        cited = [c["locator"] for c in answer["citations"]]
        ok = any(loc == prefix or loc.startswith(prefix + ".") or loc.startswith(prefix) for loc in cited)
        return None if ok else f"{prefix} not cited (cited {cited})"
    if kind == "ncd":
        procedure, diagnosis = args
        procedures, resolutions = oracle.ncd()
        ncds = procedures.get(procedure, [])
        if not ncds:
            return None if DONT_KNOW in text else "not in the NCD files, but no 'I don't know'"
        if diagnosis is None:
            return None if all(f"NCD {n}" in text for n in ncds) else f"NCDs {ncds} missing"
        for n in ncds:
            resolution = resolutions.get((n, key(diagnosis)), resolutions.get((n, "@@@@@@@")))
            if resolution and f"resolution code {resolution}" not in {c["excerpt"] for c in answer["citations"]}:
                return f"NCD {n}: resolution {resolution} not given"
        return None
    if kind == "case":
        [expected] = args
        missing = [c for c in expected if c not in codes]
        if missing:
            return f"{missing} not suggested"
        return None if "Suggestions for a coder to verify" in text else "not marked as suggestions"
    raise ValueError(f"unknown check {kind}")


def intents_covered() -> dict[str, int]:
    counts: dict[str, int] = {}
    for q in QUESTIONS:
        counts[q.intent] = counts.get(q.intent, 0) + 1
    return counts


