"""The assistant's answers link each code to the web app's code page: the default link
template must land on a page the gateway serves (a mismatch is a dead link in every answer)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from starlette.routing import Match

from assistant.config import AssistantSettings
from gateway import web


@pytest.mark.parametrize("system, code", [("ICD10CM", "K22.0"), ("CPT", "43497"), ("ICD10PCS", "0DTJ4ZZ")])
def test_the_default_code_link_is_a_served_code_page(system, code):
    template = AssistantSettings.model_fields["ASSISTANT_CODE_URL"].default
    path = urlparse(template.format(system=system, code=code)).path
    scope = {"type": "http", "method": "GET", "path": path}
    matched = [route.path for route in web.routes(graphiql=False) if route.matches(scope)[0] is Match.FULL]
    assert matched == ["/code/{system}/{code:path}"], (path, matched)
