"""The assistant's evaluation set: questions as coders write them, each with the intent it
must be read as and how to tell the answer is right, judged against the platform's own
data (the codes service's code pages, checkClaim, MUEs and GEMs, and the mirror's files),
never against text written down here. The questions are in evaluation_questions.yaml.

`grade(oracle, question, answer)` returns None when right, else why not. The end-to-end
tests print the share answered correctly; `make bench` times the answers. Nothing here
runs inside the service.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DONT_KNOW = "I don't know"


@dataclass
class Q:
    text: str
    intent: str
    check: tuple  # (kind, *arguments), see grade()
    follow_up: bool = False  # asked in the conversation of the question before


def _load_questions() -> list[Q]:
    path = Path(__file__).with_name("evaluation_questions.yaml")
    return [
        Q(item["q"], item["intent"], tuple(item["check"]), item.get("follow_up", False))
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))
    ]


QUESTIONS: list[Q] = _load_questions()


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
        [found] = await self.rpc.call(
            "codes", "get_code_rules", request={"refs": [{"system": system, "code": code}], "ptp_first": 0}
        )
        return found

    async def check_claim(self, lines: list[dict], setting: str = "practitioner", dos: str | None = None):
        return await self.rpc.call(
            "codes", "check_claim", request={"lines": lines, "setting": setting, "date_of_service": dos}
        )

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
            check = await oracle.check_claim(
                [{"code": c, "modifiers": modifiers if c in column2 else []} for c in pair], setting
            )
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
