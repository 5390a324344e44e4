"""The code's canonical form: what the codes service prints and metering counts, computed
from any spelling by both sides alike."""

import pytest

from medcode_contracts.codes import CodeSystem, canonical_code, code_key
from medcode_contracts.metering import code_page_resource


@pytest.mark.parametrize(
    "system, typed, printed",
    [
        ("ICD10CM", "K22.0", "K22.0"),
        ("ICD10CM", "k220", "K22.0"),
        ("ICD10CM", " K22.0 ", "K22.0"),
        ("ICD10CM", "s72001a", "S72.001A"),
        ("ICD10CM", "K22", "K22"),
        ("ICD10CM", "K2-2.0", "K22.0"),
        (CodeSystem.ICD10PCS, "0db64zz", "0DB64ZZ"),
        ("HCPCS", "j9035", "J9035"),
        ("CPT", "0001U", "0001U"),
        ("MODIFIER", "lt", "LT"),
        ("HCPCS", "J90.35", "J9035"),
    ],
)
def test_any_spelling_gives_the_printed_code(system, typed, printed):
    assert canonical_code(system, typed) == printed
    assert code_key(typed) == printed.replace(".", "")


def test_the_metered_resource_is_one_per_page_however_typed():
    assert code_page_resource("ICD10CM", "k220") == code_page_resource(CodeSystem.ICD10CM, "K22.0") == "ICD10CM:K22.0"
    assert code_page_resource("HCPCS", "j9035") == "HCPCS:J9035"


def test_an_unknown_system_is_refused():
    with pytest.raises(ValueError):
        canonical_code("ICD9", "410.90")
