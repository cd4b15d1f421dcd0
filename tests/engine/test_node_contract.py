"""The typed node contract: an executor gets its params model and its credential as a typed model;
what it returns is checked against its declared output model."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from connectflow_dagster.errors import CredentialError, NonRetriableNodeError
from connectflow_dagster.nodes.base import CredentialFields, CredentialType, NodeContext, NodeType, Params


class KeyFields(CredentialFields):
    api_key: SecretStr
    region: str = "eu"


class EchoParams(Params):
    answer: Any = None


class EchoOutput(BaseModel):
    region: str
    length: int


seen: list[Any] = []


def echo(params: EchoParams, ctx: NodeContext[KeyFields]) -> Any:
    seen.append(ctx.auth)
    return params.answer


ECHO = NodeType(
    type="test.echo",
    display_name="Echo",
    group="action",
    description="Returns its 'answer' param.",
    params=EchoParams,
    output=EchoOutput,
    execute=echo,
    credential=CredentialType(type="key_api", display_name="Key API", fields=KeyFields),
)


def _ctx(stored: dict[str, Any]) -> NodeContext[Any]:
    def resolve(owner_id: str, credential_id: str, expected_type: str | None) -> dict[str, Any]:
        assert expected_type == "key_api"
        return stored

    return NodeContext(
        run_id="r",
        workflow_id="w",
        owner_id="o",
        node_id="echo",
        node_name="Echo",
        context={},
        credential_id="c1",
        credential_resolver=resolve,
    )


def test_the_executor_gets_its_credential_as_the_typed_fields_model():
    seen.clear()
    ctx = _ctx({"api_key": "secret-value-123", "region": "us"})
    assert ECHO.run(EchoParams(answer=EchoOutput(region="us", length=3)), ctx) == {
        "region": "us",
        "length": 3,
    }
    assert isinstance(seen[0], KeyFields) and seen[0].api_key.get_secret_value() == "secret-value-123"
    assert ctx.scrub("leaked secret-value-123") == "leaked ***"


def test_a_credential_that_no_longer_fits_its_type_fails_without_its_values():
    with pytest.raises(CredentialError, match="no longer fits its type") as err:
        ECHO.run(EchoParams(), _ctx({"api_key": "secret-value-123", "bogus": "x"}))
    assert "secret-value-123" not in str(err.value)


def test_the_declared_output_model_is_enforced():
    assert ECHO.run(EchoParams(answer={"region": "eu", "length": 2}), _ctx({"api_key": "k"})) == {
        "region": "eu",
        "length": 2,
    }
    with pytest.raises(NonRetriableNodeError, match=r"does not match EchoOutput: length: .*integer"):
        ECHO.run(EchoParams(answer={"region": "eu", "length": "many"}), _ctx({"api_key": "k"}))
