"""The published OpenAPI schema, exercised by schemathesis against the ASGI app.

Requests are generated from the schema for every operation (a bounded number each,
derandomized so runs repeat) and sent as the admin with an API token, over the seeded
console with a real ledger; no answer may be a 5xx and every answer must conform to the
schema (status code, content type, body). (Schemathesis's pytest fixture loader does not
work with pytest 9, so the operations are driven with Hypothesis's ``given`` here.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from console_support import Clock, Console, build_console, witnessed_ledger
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from meterseal.api.context import ConsoleStore

pytest_plugins = ["console_fixtures"]

EXAMPLES = 12
"""Generated requests per operation: enough to reach every parameter, few enough to keep
the whole run well under a minute."""


@pytest.fixture
def witnessed_console(sqlite_store: ConsoleStore, tmp_path: Path) -> Iterator[Console]:
    """A seeded console with a witnessed ledger (SQLite)."""
    ledger = witnessed_ledger(tmp_path / "ledger-data")
    try:
        yield build_console(sqlite_store, Clock(), ledger=ledger)
    finally:
        ledger.close()


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _exercise(operation: APIOperation[Any, Any, Any, Any], token: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Case[Any]) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    run()


def test_the_api_conforms_to_its_schema_and_never_fails(witnessed_console: Console) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", witnessed_console.app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an invalid operation: {result}"
        operations.append(result.ok())
    assert len(operations) >= 18
    for operation in operations:
        _exercise(operation, witnessed_console.tokens["admin"])
