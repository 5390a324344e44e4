"""The served schema against the public contract: every type, field, argument and enum value
of the repository's copy (medcode_contracts/schema.graphql) exists with the same type (the
gateway may add more); the copy equals the shared contract (../shared/contract/schema.graphql,
or GRAPHQL_CONTRACT) where that is present, and the gateway serves it at /schema.graphql."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
    build_schema,
    print_ast,
    print_type,
)
from graphql.utilities import ast_from_value

from gateway.app import create_app
from gateway.schema import build_schema as build_gateway_schema
from gateway.schema.enums import CodeSystem
from gateway.settings import load
from medcode_contracts import codes as codes_contract
from medcode_contracts import graphql_schema

REPO = Path(__file__).resolve().parents[2]


def _shared_contract_path() -> Path:
    configured = os.environ.get("GRAPHQL_CONTRACT")
    return Path(configured) if configured else REPO.parent / "shared" / "contract" / "schema.graphql"


@pytest.fixture(scope="module")
def contract():
    return build_schema(graphql_schema.contract_sdl())


def test_the_repository_copy_equals_the_shared_contract():
    shared = _shared_contract_path()
    if "GRAPHQL_CONTRACT" not in os.environ and not shared.parent.parent.is_dir():
        pytest.skip(f"no {shared.parent.parent} beside the clone: the repository's copy is the contract")
    assert shared.is_file(), f"the shared GraphQL contract {shared} is missing"
    assert graphql_schema.contract_sdl() == shared.read_text(encoding="utf-8"), (
        f"{graphql_schema.PATH} differs from {shared}: copy the shared contract into the repository"
    )


async def test_the_gateway_serves_the_contract():
    # No lifespan (no broker): the route reads a file only.
    app = create_app(load(AMQP_URI="amqp://guest:guest@127.0.0.1:1/"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway") as client:
        response = await client.get("/schema.graphql")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == graphql_schema.contract_sdl()


@pytest.fixture(scope="module")
def served():
    return build_gateway_schema()._schema


def _default(arg) -> str | None:
    """The printed default value; no default and `= null` mean the same for a nullable input."""
    node = getattr(arg, "ast_node", None)
    if node is not None and node.default_value is not None:
        printed = print_ast(node.default_value)
    elif arg.default_value is None or arg.default_value is Undefined:
        return None
    else:
        printed = print_ast(ast_from_value(arg.default_value, arg.type))
    return None if printed == "null" else printed


def _input_problems(label: str, expected: dict, actual: dict, extra_required: str) -> list[str]:
    """A field's arguments, or an input type's fields: each of the contract's with the same type
    and default, and no required one beside them. `label.format(name)` names one in a problem."""
    problems = []
    for name, value in expected.items():
        ours = actual.get(name)
        if ours is None:
            problems.append(f"{label.format(name)} missing")
        elif str(ours.type) != str(value.type) or _default(ours) != _default(value):
            problems.append(f"{label.format(name)}: {ours.type} = {_default(ours)} != {value.type} = {_default(value)}")
    extra = [name for name, value in actual.items() if name not in expected and str(value.type).endswith("!")]
    return problems + ([f"{extra_required} {extra}"] if extra else [])


KINDS = (GraphQLObjectType, GraphQLInputObjectType, GraphQLEnumType, GraphQLScalarType)


def _contract_types(contract):
    return sorted(name for name in contract.type_map if not name.startswith("__"))


def test_every_contract_type_exists_with_the_same_kind(contract, served):
    missing = [name for name in _contract_types(contract) if name not in served.type_map]
    assert missing == []
    for name in _contract_types(contract):
        kind = next(k for k in KINDS if isinstance(contract.type_map[name], k))
        assert isinstance(served.type_map[name], kind), name


def test_fields_and_arguments_match(contract, served):
    problems = []
    for name in _contract_types(contract):
        expected, actual = contract.type_map[name], served.type_map[name]
        if isinstance(expected, GraphQLObjectType):
            for field_name, field in expected.fields.items():
                ours = actual.fields.get(field_name)
                if ours is None:
                    problems.append(f"{name}.{field_name} missing")
                    continue
                if str(ours.type) != str(field.type):
                    problems.append(f"{name}.{field_name}: {ours.type} != {field.type}")
                problems += _input_problems(
                    f"{name}.{field_name}({{}})",
                    field.args,
                    ours.args,
                    f"{name}.{field_name}: extra required arguments",
                )
        elif isinstance(expected, GraphQLInputObjectType):
            problems += _input_problems(
                f"{name}.{{}}", expected.fields, actual.fields, f"input {name}: extra required fields"
            )
        elif isinstance(expected, GraphQLEnumType):
            missing = set(expected.values) - set(actual.values)
            if missing:
                problems.append(f"enum {name} lacks {sorted(missing)}")
        else:
            assert isinstance(expected, GraphQLScalarType)
    assert problems == [], "\n".join(problems)


def test_root_types(contract, served):
    assert served.query_type.name == contract.query_type.name
    assert served.mutation_type.name == contract.mutation_type.name
    assert served.subscription_type.name == contract.subscription_type.name


def test_code_system_enum_equals_the_services_contract_plus_the_crosswalk_only_icd9cm():
    # Every system the services serve is in the GraphQL enum; ICD9CM is the one addition,
    # for GEM crosswalk targets, and has no code pages.
    assert [m.value for m in CodeSystem] == [m.value for m in codes_contract.CodeSystem] + ["ICD9CM"]


def test_printed_schema_is_stable(served):
    # A smoke check that printing works; the diff against the contract is the tests above.
    assert "searchCodes(" in print_type(served.query_type)
