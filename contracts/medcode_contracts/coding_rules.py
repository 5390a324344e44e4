"""Contract of the coding-rules part of the `codes` service.

NCCI procedure-to-procedure (PTP) edits, medically unlikely edits (MUE), GEM crosswalks,
lay terms from the ICD-10-CM index, modifiers and the claim check. The RPCs below are
served by the `codes` service (contracts.codes.SERVICE); every payload is
`model_dump(mode="json")`, dates are ISO strings ("2026-07-01").
"""

from __future__ import annotations

from datetime import date
from enum import Enum

from pydantic import Field, ValidationError, field_validator

from .codes import CodeRef, CodeSystem
from .common import Model, stripped_not_blank
from .errors import BadRequest


class Rpc:
    CHECK_CLAIM = "check_claim"  # ClaimInput -> ClaimCheck
    GET_MODIFIER = "get_modifier"  # GetModifierRequest -> Modifier | None
    LIST_MODIFIERS = "list_modifiers"  # -> list[Modifier] (HCPCS, plus CPT when licensed)
    GET_CODE_RULES = "get_code_rules"  # GetCodeRulesRequest -> list[CodeRules], request order


MAX_CLAIM_LINES = 50
MAX_PTP_PAGE = 1000

# The modifiers CMS lists as "NCCI PTP-associated": with modifier indicator 1, one of them on
# the column-2 line lets both codes of the pair pay.
NCCI_ASSOCIATED_MODIFIERS: frozenset[str] = frozenset(
    [
        "59",
        "XE",
        "XS",
        "XP",
        "XU",
        "E1",
        "E2",
        "E3",
        "E4",
        "FA",
        "TA",
        "LT",
        "RT",
        "LC",
        "LD",
        "LM",
        "RC",
        "RI",
        "24",
        "25",
        "27",
        "57",
        "58",
        "78",
        "79",
        "91",
    ]
    + [f"F{i}" for i in range(1, 10)]
    + [f"T{i}" for i in range(1, 10)]
)


class Setting(str, Enum):
    """Where the service was given: NCCI publishes separate tables per setting."""

    PRACTITIONER = "practitioner"
    OUTPATIENT_HOSPITAL = "outpatient_hospital"
    DME = "dme"  # MUE only: CMS publishes no Medicare DME PTP table

    @classmethod
    def parse(cls, value: str | Setting) -> Setting:
        """Accept the spellings people use ("outpatient hospital", "OPPS", "DME supplier")."""
        if isinstance(value, Setting):
            return value
        key = str(value).strip().lower().replace("-", " ").replace("_", " ")
        for setting, aliases in _SETTING_ALIASES.items():
            if key in aliases:
                return setting
        raise ValueError(f"unknown setting {value!r}: use practitioner, outpatient_hospital or dme")


_SETTING_ALIASES = {
    Setting.PRACTITIONER: {"practitioner", "physician", "professional", "practitioner services"},
    Setting.OUTPATIENT_HOSPITAL: {
        "outpatient hospital",
        "outpatient",
        "hospital",
        "opps",
        "facility",
        "outpatient hospital services",
    },
    Setting.DME: {"dme", "dme supplier", "dme supplier services", "supplier"},
}


class FindingKind(str, Enum):
    PTP = "PTP"  # a bundled pair (modifier indicator 0 or 1, no modifier)
    PTP_MODIFIER = "PTP_MODIFIER"  # a bundled pair unbundled by an NCCI-associated modifier (informational)
    MUE = "MUE"  # units above the medically unlikely edit
    UNKNOWN_CODE = "UNKNOWN_CODE"  # in no loaded code set or NCCI/MUE file
    DELETED_CODE = "DELETED_CODE"  # terminated before the date of service
    COVERAGE = "COVERAGE"  # a lab test's diagnoses do not support it under its NCD
    CODE_EDIT = "CODE_EDIT"  # a Medicare Code Editor edit fires on the diagnoses


# Kinds that do not make a claim unclean.
INFORMATIONAL_KINDS = frozenset({FindingKind.PTP_MODIFIER})


# ---- claim check ------------------------------------------------------------------------------


class ClaimLine(Model):
    code: str = Field(min_length=1, max_length=16)
    modifiers: list[str] = Field(default_factory=list, max_length=4)
    units: int = Field(default=1, ge=1, le=100_000)

    _strip_code = field_validator("code")(stripped_not_blank)

    @field_validator("modifiers")
    @classmethod
    def _normalise_modifiers(cls, values: list[str]) -> list[str]:
        cleaned = [m.strip().upper() for m in values]
        for modifier in cleaned:
            if len(modifier) != 2 or not modifier.isalnum():
                raise ValueError(f"modifier {modifier!r} is not a two-character modifier")
        return cleaned


MAX_CLAIM_DIAGNOSES = 25  # the 837I carries a principal and up to 24 other diagnoses


class Sex(str, Enum):
    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"


class ClaimInput(Model):
    date_of_service: date | None = None  # none: today
    setting: Setting = Setting.PRACTITIONER
    lines: list[ClaimLine] = Field(min_length=1, max_length=MAX_CLAIM_LINES)
    # ICD-10-CM diagnoses of the claim, the first one principal (beside the contract).
    diagnoses: list[str] = Field(default_factory=list, max_length=MAX_CLAIM_DIAGNOSES)
    patient_age: int | None = Field(default=None, ge=0, le=124)  # years, as the MCE reads it
    patient_sex: Sex | None = None

    @field_validator("setting", mode="before")
    @classmethod
    def _parse_setting(cls, value):
        return Setting.parse(value)

    @field_validator("diagnoses")
    @classmethod
    def _clean_diagnoses(cls, values: list[str]) -> list[str]:
        cleaned = []
        for value in values:
            code = value.strip().upper()
            key = code.replace(".", "")
            if not (3 <= len(key) <= 7 and key.isalnum() and key[0].isalpha() and key[1].isdigit()):
                raise ValueError(f"diagnosis {value.strip()!r} is not an ICD-10-CM code (e.g. K22.0)")
            cleaned.append(code)
        return cleaned

    @field_validator("patient_sex", mode="before")
    @classmethod
    def _parse_sex(cls, value):
        if value is None or isinstance(value, Sex):
            return value
        key = str(value).strip().lower()
        aliases = {"m": "male", "f": "female", "u": "unknown", "1": "male", "2": "female", "0": "unknown"}
        key = aliases.get(key, key)
        if key not in {s.value for s in Sex}:
            raise ValueError(f"unknown sex {value!r}: use male, female or unknown")
        return key


def parse_claim(payload: dict | ClaimInput) -> ClaimInput:
    """Validate a claim payload; a bad one raises BadRequest saying what is wrong."""
    if isinstance(payload, ClaimInput):
        return payload
    if not isinstance(payload, dict):
        raise BadRequest("claim: expected an object with dateOfService, setting and lines")
    try:
        return ClaimInput.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "claim"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "too_long" and first["loc"][:1] == ("lines",):
            message = f"a claim has at most {first['ctx'].get('max_length')} lines"
        elif first["type"] == "too_short" and first["loc"][:1] == ("lines",):
            message = "a claim needs at least one line"
        raise BadRequest(f"{where}: {message}") from None


class ClaimFinding(Model):
    kind: FindingKind
    codes: list[str]  # as printed; for PTP: [column 1, column 2]
    lines: list[int] = []  # 1-based claim line numbers involved
    message: str
    modifier_allowed: bool | None = None  # PTP only: can an NCCI-associated modifier unbundle it
    source: str  # file and edition that decided it


class ClaimCheck(Model):
    clean: bool  # no finding other than informational ones
    findings: list[ClaimFinding]
    date_of_service: date
    setting: Setting
    editions: list[str] = []  # the rule editions the check used


# ---- code page sections -----------------------------------------------------------------------


class PtpEdit(Model):
    column1: str
    column2: str
    modifier_indicator: int  # 0 never separable, 1 separable with a modifier, 9 n/a
    effective_from: date | None = None  # None: the release's layout carries no effective date
    edition_effective_from: date | None = None  # the release's effective date (from its name), if known
    deleted_on: date | None = None  # last day the edit was in force; None = active
    rationale: str | None = None
    setting: Setting
    source: str


class Mue(Model):
    setting: Setting
    max_units: int
    adjudication_indicator: str  # as CMS prints it: "2 Date of Service Edit: Policy"
    rationale: str | None = None
    source: str


class CrosswalkTarget(Model):
    system: str  # "ICD9CM" or a CodeSystem value
    code: str  # as printed ("410.90", "I21.9")
    title: str | None = None  # when a loaded code set knows it


class Crosswalk(Model):
    kind: str  # GEM_I10_TO_I9 (forward) or GEM_I9_TO_I10 (backward)
    target: CrosswalkTarget
    approximate: bool
    no_map: bool = False
    combination: bool = False
    scenario: int = 0
    choice_list: int = 0
    source: str


class Modifier(Model):
    code: str
    title: str  # short descriptor
    description: str | None = None  # long descriptor
    system: CodeSystem = CodeSystem.HCPCS  # HCPCS Level II, or CPT (licensed file only)
    ncci_associated: bool = False  # can unbundle an NCCI PTP edit with indicator 1
    terminated_on: date | None = None
    source: str


class GetModifierRequest(Model):
    code: str = Field(min_length=1, max_length=4)


class RuleEdition(Model):
    kind: str  # PTP, MUE, GEM, INDEX, MODIFIERS, CPT, HCPCS
    setting: str | None = None
    name: str
    source: str
    fingerprint: str
    loaded_at: str
    counts: dict[str, int] = {}


# ---- Medicare coverage (lab NCDs, MCD index) and Medicare Code Editor -----------------------


class NcdResolution(str, Enum):
    """The lab NCD spreadsheet's resolution codes."""

    COVERED = "COVERED"  # 1: the diagnosis supports the test
    DENIED = "DENIED"  # 2: never covered with this diagnosis
    NOT_SUPPORTED = "NOT_SUPPORTED"  # 3: does not support medical necessity


class NcdDiagnosis(Model):
    code: str  # ICD-10-CM as printed ("N39.0")
    title: str | None = None  # from the loaded ICD-10-CM edition
    resolution: NcdResolution
    effective_from: date | None = None
    term_date: date | None = None  # last day the row applies; None = in force
    changed: bool = False  # marked "*" (changed in this release)


class LabNcd(Model):
    number: str  # "190.12"
    title: str  # "Urine Culture, Bacterial"
    procedure_codes: list[str] = []  # CPT/HCPCS numbers the NCD governs
    other_diagnoses: NcdResolution | None = None  # what every unlisted diagnosis means ("@@@@@@@")
    resolution: NcdResolution | None = None  # on a diagnosis page: what this code is under the NCD
    counts: dict[str, int] = {}  # resolution -> number of listed diagnoses in force
    diagnoses: list[NcdDiagnosis] = []  # a first slice, covered ones first (procedure pages)
    source: str


class CoverageDocument(Model):
    """An LCD or billing article of the Medicare Coverage Database index."""

    document_id: str  # "L36668", "A52399"
    document_type: str  # LCD or Article
    title: str
    contractor: str
    effective_date: date | None = None
    version: str | None = None
    url: str | None = None
    matched: list[str] = []  # the words of the code's subject that matched the title
    source: str


class Coverage(Model):
    ncds: list[LabNcd] = []
    documents: list[CoverageDocument] = []
    documents_total: int = 0


class CodeEdit(Model):
    """A Medicare Code Editor edit that applies to a code."""

    edit: str  # AGE_CONFLICT, MANIFESTATION_PDX, UNACCEPTABLE_PDX, ...
    number: str  # the MCE's edit number: "4", "6", "9", "11D"
    title: str  # the MCE's edit name
    message: str  # what it means for this code, in the MCE's words
    age_range: tuple[int, int] | None = None  # age conflict lists: the ages the code fits
    source: str


class CodeRules(Model):
    system: CodeSystem
    code: str
    known: bool  # appears in a loaded code set or rule file
    descriptor: str | None = None  # only for CPT codes from a licensed file
    descriptor_note: str | None = None  # why there is no descriptor (CPT licence)
    ptp_edits: list[PtpEdit] = []  # current edition, both directions
    ptp_total: int = 0  # edits before the `ptp_first` cut
    mue: list[Mue] = []
    crosswalks: list[Crosswalk] = []
    lay_terms: list[str] = []
    coverage: Coverage = Coverage()
    code_edits: list[CodeEdit] = []


class GetCodeRulesRequest(Model):
    refs: list[CodeRef] = Field(max_length=200)
    ptp_first: int = Field(default=50, ge=0, le=MAX_PTP_PAGE)
    include_deleted_ptp: bool = False  # deleted edits too (for history)


CPT_LICENCE_NOTE = "The CPT descriptor needs an AMA CPT licence; load a licensed CPT file (CPT_FILE) to show it."
