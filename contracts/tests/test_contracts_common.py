import pytest
from pydantic import ValidationError

from medcode_contracts.assistant import AskRequest
from medcode_contracts.coding_rules import ClaimLine


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda text: AskRequest(question=text, subject="guest-1", plan="FREE").question, "question"),
        (lambda text: ClaimLine(code=text).code, "code"),
    ],
)
def test_text_fields_are_stripped_and_blank_is_refused_by_name(build, field):
    assert build("  K22.0 \n") == "K22.0"
    with pytest.raises(ValidationError, match=f"{field} must not be blank"):
        build(" \t ")
