"""The public GraphQL contract (schema.graphql beside this module): the repository's copy
of the shared contract, served by the gateway at /schema.graphql. The gateway's schema must
contain every type, field and argument of it (gateway/tests/test_gateway_schema_contract.py)."""

from __future__ import annotations

from pathlib import Path

PATH = Path(__file__).with_name("schema.graphql")


def contract_sdl() -> str:
    """The contract's text (GraphQL SDL)."""
    return PATH.read_text(encoding="utf-8")
